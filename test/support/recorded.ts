/**
 * What a real kube-apiserver v1.32 and its controllers sent and answered, recorded beside the
 * repository in `../shared/k8s-recorded/` (its README says how). Tests read them to keep the
 * fake API server and the webhook honest about real traffic; where they disagree, these win.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The recordings' directory, beside the repository (CI clones it with shared/ beside it too). */
export const RECORDED_DIR = fileURLToPath(new URL('../../../shared/k8s-recorded/', import.meta.url));

/** A recorded JSON file, by its path under the recordings' directory (`api/pods-list-page1.json`). */
export function readRecorded<T = any>(path: string): T {
  return JSON.parse(readFileSync(RECORDED_DIR + path, 'utf8')) as T;
}

/** A recorded newline-delimited JSON file (a watch stream), one value per line. */
export function readRecordedLines<T = any>(path: string): T[] {
  return readFileSync(RECORDED_DIR + path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** One recorded AdmissionReview with its index entry. */
export interface RecordedReview {
  readonly file: string;
  readonly webhook: 'mutate' | 'validate';
  readonly operation: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  readonly user: string;
  readonly dryRun: boolean;
  readonly review: { apiVersion: string; kind: string; request: Record<string, any> };
}

/** Every recorded AdmissionReview, in index order. */
export function recordedReviews(): RecordedReview[] {
  const index = readRecorded<Array<Omit<RecordedReview, 'review'>>>('reviews/index.json');
  const files = new Set(readdirSync(`${RECORDED_DIR}reviews`).filter((f) => f !== 'index.json'));
  if (index.length !== files.size) throw new Error(`reviews/index.json lists ${index.length} reviews, the directory holds ${files.size}`);
  return index.map((entry) => ({ ...entry, review: readRecorded(`reviews/${entry.file}`) }));
}
