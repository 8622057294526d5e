/**
 * Manifest input for `idgate check` (docs/design.md#audit-and-check): files, directories and stdin holding
 * multi-document YAML or JSON — what `kubectl kustomize`, `helm template` and `kubectl get -o
 * yaml|json` print — split into Kubernetes objects, each with the file and line it came from.
 *
 * JSON is read by the YAML parser (YAML 1.2 is a superset of JSON), so a `.json` file, a
 * `kubectl get -o json` List and YAML streams all take the same path and get line numbers.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Segment } from '../lib/field-path.ts';
import { listItems } from '../lib/kube-list.ts';
import { parseYamlDocuments, type YamlDocument } from '../lib/yaml.ts';
import type { KubeObject } from '../admission/k8s.ts';
import { isRecord } from '../admission/k8s.ts';

/** Where an object (or a problem) is in the input. `file` is `-` for stdin. */
export interface SourceLocation {
  readonly file: string;
  /** 1-based line. */
  readonly line?: number;
}

/** One object of the input. */
export interface InputObject {
  readonly object: KubeObject;
  readonly source: SourceLocation;
  /** The 1-based line of a field of this object (`['spec', 'groups', 1]`), or of its nearest present parent. */
  readonly lineAt: (path: readonly Segment[]) => number | undefined;
}

/** Something in the input that cannot be read as Kubernetes objects. */
export interface InputProblem extends SourceLocation {
  readonly message: string;
}

/** Stable code of {@link InputError}. */
export const ERR_INPUT = 'ERR_INPUT';

/** Unreadable input; the message lists every problem as `file:line: message`. */
export class InputError extends Error {
  readonly code = ERR_INPUT;
  readonly problems: readonly InputProblem[];

  constructor(problems: readonly InputProblem[]) {
    super(problems.map(formatInputProblem).join('\n'));
    this.name = 'InputError';
    this.problems = problems;
  }
}

/** `file:line: message`, the shape editors and CI logs link to. */
export function formatInputProblem(p: InputProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ''}: ${p.message}`;
}

/**
 * Splits one text into objects. Lists are unwrapped (nested Lists too); empty documents (a
 * stray `---`, `helm template`'s comment-only documents) are skipped. Never throws: syntax
 * errors and documents that are not Kubernetes objects come back as problems with their line.
 */
export function parseManifests(text: string, file: string): { objects: InputObject[]; problems: InputProblem[] } {
  const objects: InputObject[] = [];
  const problems: InputProblem[] = [];
  for (const doc of parseYamlDocuments(text)) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ file, line: e.line, message: `YAML syntax error: ${e.message}` });
      continue;
    }
    let value: unknown;
    try {
      value = doc.value();
    } catch (err) {
      problems.push({ file, line: doc.lineOf([]), message: (err as Error).message });
      continue;
    }
    if (value === null || value === undefined) continue;
    collect(value, [], doc, file, objects, problems);
  }
  return { objects, problems };
}

function collect(value: unknown, base: readonly Segment[], doc: YamlDocument, file: string, objects: InputObject[], problems: InputProblem[]): void {
  const line = doc.lineOf(base);
  if (!isRecord(value)) {
    problems.push({
      file,
      line,
      message: `expected a Kubernetes object (a mapping with apiVersion and kind), got ${Array.isArray(value) ? 'a list' : typeof value}`,
    });
    return;
  }
  const items = listItems(value);
  if (items !== undefined) {
    for (const [i, item] of items.entries()) collect(item, [...base, 'items', i], doc, file, objects, problems);
    return;
  }
  if (typeof value.kind !== 'string' || value.kind === '' || typeof value.apiVersion !== 'string' || value.apiVersion === '') {
    problems.push({ file, line, message: 'not a Kubernetes object: apiVersion and kind are required (kubectl would refuse it too)' });
    return;
  }
  objects.push({
    object: value as KubeObject,
    source: { file, ...(line !== undefined ? { line } : {}) },
    lineAt: (path) => doc.lineOf([...base, ...path]),
  });
}

/** Extensions a directory walk picks up (what `kubectl apply -f DIR` reads). */
const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

/**
 * Reads every `-f` argument: a file, a directory (walked recursively, files in name order so
 * the output is stable) or `-` for stdin. Throws an {@link InputError} naming the path when
 * one cannot be read, and one listing every problem (`file:line: message`) when any text is
 * not a stream of Kubernetes objects.
 */
export async function readManifests(paths: readonly string[], readStdin: () => Promise<string>): Promise<InputObject[]> {
  const objects: InputObject[] = [];
  const problems: InputProblem[] = [];
  let stdinRead = false;
  for (const path of paths) {
    let texts: Array<{ file: string; text: string }>;
    try {
      if (path === '-') {
        if (stdinRead) continue;
        stdinRead = true;
        texts = [{ file: '-', text: await readStdin() }];
      } else {
        texts = await readPath(path);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push({ file: path, message: `cannot read: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message} (check -f)` });
      continue;
    }
    for (const { file, text } of texts) {
      const parsed = parseManifests(text, file);
      objects.push(...parsed.objects);
      problems.push(...parsed.problems);
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  return objects;
}

async function readPath(path: string): Promise<Array<{ file: string; text: string }>> {
  if (!(await stat(path)).isDirectory()) return [{ file: path, text: await readFile(path, 'utf8') }];
  const out: Array<{ file: string; text: string }> = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await readPath(child)));
    else if (MANIFEST_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) out.push({ file: child, text: await readFile(child, 'utf8') });
  }
  return out;
}
