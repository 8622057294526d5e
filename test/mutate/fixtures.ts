/**
 * Loading of the Pod fixtures (test/fixtures/pods): a bare Pod or an AdmissionReview whose
 * request carries the Pod; and the fixture bindings as a synced BindingIndex.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Pod } from '../../src/admission/k8s.ts';
import type { Binding } from '../../src/identity/types.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import type { BaselineOverrides } from '../support/baseline.ts';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/pods/', import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL('../golden/pods/', import.meta.url));
export const BINDINGS_FILE = 'bindings.yaml';

export interface PodFixture {
  readonly pod: Pod;
  /** request.namespace for a review, else metadata.namespace. */
  readonly namespace: string;
}

/** Reads a fixture file; every call returns a fresh object. */
export function loadPodFixture(file: string): PodFixture {
  const doc = parse(readFileSync(FIXTURES_DIR + file, 'utf8')) as Record<string, unknown>;
  if (doc.kind === 'AdmissionReview') {
    const request = doc.request as { namespace?: string; object: Pod };
    return { pod: request.object, namespace: request.namespace ?? '' };
  }
  const pod = doc as Pod;
  return { pod, namespace: pod.metadata?.namespace ?? '' };
}

/** A synced index holding the bindings of test/fixtures/pods/bindings.yaml. */
export function fixtureBindings(): BindingIndex {
  const index = new BindingIndex();
  for (const b of parse(readFileSync(FIXTURES_DIR + BINDINGS_FILE, 'utf8')) as Binding[]) index.upsert(b);
  index.markSynced();
  return index;
}

/** Fixtures that need a baseline other than the example one (examples/baseline.yaml). */
export const BASELINE_FOR: Record<string, BaselineOverrides> = {
  'container-mode': { sidecar: { mode: 'container' } },
  'already-injected-container-mode': { sidecar: { mode: 'container' } },
  'kubernetes-issuer-no-automount': { sidecar: { kubernetesIssuer: 'https://kubernetes.default.svc.cluster.local' } },
  'kubernetes-issuer': { sidecar: { kubernetesIssuer: 'https://kubernetes.default.svc.cluster.local' } },
};
