/**
 * The parts the mutating handler keeps (src/mutate/parts.ts) and the patch text assembled from
 * them (patchJson): the same patch, value for value and byte for byte, as the mutation building
 * everything anew; and never stale — a baseline reload or a binding change reaches the next Pod.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { pino } from 'pino';
import type { Pod } from '../../src/admission/k8s.ts';
import { encodeReviewJson } from '../../src/admission/review.ts';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import type { Baseline } from '../../src/config/baseline.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import type { IdentityResolver } from '../../src/identity/types.ts';
import { createMutateHandler } from '../../src/mutate/handler.ts';
import { mutatePod } from '../../src/mutate/mutate.ts';
import { createPartsCache, MAX_CACHED_SIDECARS } from '../../src/mutate/parts.ts';
import { patchJson } from '../../src/mutate/patch.ts';
import { testBaseline, TEST_ISSUER } from '../support/baseline.ts';
import { BASELINE_FOR, BINDINGS_FILE, FIXTURES_DIR, fixtureBindings, loadPodFixture } from './fixtures.ts';

const VERSION = '0.1.0';
const fixtures = readdirSync(FIXTURES_DIR)
  .filter((f) => f.endsWith('.yaml') && f !== BINDINGS_FILE)
  .sort();

const appPod = (metadata: Pod['metadata'] | undefined): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  ...(metadata === undefined ? {} : { metadata }),
  spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }] },
});

/** Pods whose metadata takes every branch of metadata.ts, beside the fixtures. */
const metadataCases: Record<string, Pod> = {
  'no metadata': appPod(undefined),
  'null labels and annotations': appPod({ name: 'a', labels: null as never, annotations: null as never }),
  'no annotations': appPod({ name: 'a', labels: { app: 'a', 'idgate.dev/service-account': 'api' } }),
  'identity keys, some right, some spoofed': appPod({
    name: 'a',
    labels: { 'group.idgate.dev/payments-writers': 'true', 'group.idgate.dev/admins': 'true', 'idgate.dev/other': 'x', z: 'z' },
    annotations: { 'idgate.dev/groups': '["admins"]', 'idgate.dev/injected': '0.0.1', 'idgate.dev/upstream-container': 'other', 'a~b/c': 'd' },
  }),
  'upstream container recorded': appPod({ name: 'a', labels: {}, annotations: { 'idgate.dev/upstream-container': 'app' } }),
  '__proto__ keys': appPod(JSON.parse('{"name":"a","labels":{"__proto__":"x","app":"a"},"annotations":{"__proto__":"y"}}')),
};

function identities(): BindingIndex {
  const index = fixtureBindings();
  index.upsert({ namespace: 'payments', name: 'odd', issuer: TEST_ISSUER, groups: ['a~b/c', 'payments-writers'], serviceAccounts: ['api'] });
  return index;
}

test('with kept parts, mutatePod gives the same patch as building anew, and patchJson is its JSON.stringify', () => {
  const identity = identities();
  const cases: Array<[string, Pod, string, Baseline]> = [
    ...fixtures.map((f): [string, Pod, string, Baseline] => {
      const { pod, namespace } = loadPodFixture(f);
      return [f, pod, namespace, testBaseline(BASELINE_FOR[f.replace(/\.yaml$/, '')])];
    }),
    ...Object.entries(metadataCases).map(([name, pod]): [string, Pod, string, Baseline] => [name, pod, 'payments', testBaseline()]),
    ['container mode, no metadata', appPod(undefined), 'payments', testBaseline({ sidecar: { mode: 'container' } })],
  ];
  const parts = createPartsCache();
  for (let round = 0; round < 2; round++) {
    for (const [name, pod, namespace, baseline] of cases) {
      const fresh = mutatePod(pod, { baseline, identity, namespace, version: VERSION });
      const kept = mutatePod(pod, { baseline, identity, namespace, version: VERSION, parts });
      assert.deepEqual(kept, fresh, `${name} (round ${round})`);
      assert.equal(patchJson(kept.patch, parts.json), JSON.stringify(fresh.patch), `${name} (round ${round})`);
      assert.equal(patchJson(fresh.patch, new WeakMap()), JSON.stringify(fresh.patch), name);
    }
  }
});

test('kept parts are frozen: an answer cannot change the next one', () => {
  const parts = createPartsCache();
  const ctx = { baseline: testBaseline(), identity: identities(), namespace: 'payments', version: VERSION, parts };
  const { patch } = mutatePod(appPod({ name: 'a', labels: {} }), ctx);
  for (const op of patch) {
    if (op.op !== 'remove' && op.path.startsWith('/spec/')) assert.ok(Object.isFrozen((op.value as unknown[])[0]), op.path);
  }
  const sidecar = patch.find((op) => op.path === '/spec/initContainers');
  assert.ok(sidecar && sidecar.op === 'add');
  assert.throws(() => {
    (sidecar.value as Array<{ image: string }>)[0]!.image = 'evil:1';
  }, TypeError);
});

test('sidecars beyond MAX_CACHED_SIDECARS: the oldest is built again, equal', () => {
  const parts = createPartsCache();
  const config = testBaseline().sidecar;
  const params = (port: number) => ({ config, upstreamPort: port, proxyPort: 4180, allowedGroups: ['g'] });
  const first = parts.sidecar(params(1));
  for (let port = 2; port <= MAX_CACHED_SIDECARS + 1; port++) parts.sidecar(params(port));
  const again = parts.sidecar(params(1));
  assert.notEqual(again, first);
  assert.deepEqual(again, first);
  assert.equal(parts.sidecar(params(1)), again);
});

function handlerWith(identity: IdentityResolver, initial: Baseline) {
  let baseline = initial;
  const handler = createMutateHandler({ baseline: () => baseline, identity, logger: pino({ level: 'silent' }), version: VERSION });
  const request = (): AdmissionRequest => ({
    uid: 'uid-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'payments',
    operation: 'CREATE',
    object: appPod({ generateName: 'api-', labels: { app: 'api' }, annotations: { note: 'x' } }),
  });
  /** The patch as the API server receives it, decoded from the encoded answer. */
  const admit = (): Array<{ op: string; path: string; value?: unknown }> => {
    const result = handler(request()) as AdmissionResult;
    const review = JSON.parse(encodeReviewJson('uid-1', result));
    return JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8'));
  };
  const value = (path: string) => admit().find((op) => op.path === path)?.value;
  return {
    value,
    reload: (b: Baseline) => {
      baseline = b;
    },
  };
}

const SIDECAR = '/spec/initContainers';
const sidecarOf = (value: unknown) => (value as Array<{ image: string; args: string[] }>)[0]!;

test('a baseline reload reaches the next Pod: sidecar image, token audience, trusted issuers', () => {
  const index = identities();
  const { value, reload } = handlerWith(index, testBaseline());
  assert.equal(sidecarOf(value(SIDECAR)).image, 'registry.example.com/idgate:0.1.0');
  assert.equal(value('/metadata/labels/group.idgate.dev~1payments-writers'), 'true');
  reload(testBaseline({ sidecar: { image: 'registry.example.com/idgate:0.2.0', audience: 'other' } }));
  const sidecar = sidecarOf(value(SIDECAR));
  assert.equal(sidecar.image, 'registry.example.com/idgate:0.2.0');
  assert.ok(sidecar.args.includes('--audience=other'));
  assert.deepEqual(value('/spec/volumes'), [
    { name: 'idgate-token', projected: { sources: [{ serviceAccountToken: { audience: 'other', expirationSeconds: 3600, path: 'token' } }] } },
  ]);
  // The bindings' issuer is no longer trusted: no group label any more.
  reload(testBaseline({ trustedIssuers: ['https://other.example.com'] }));
  assert.equal(value('/metadata/labels/group.idgate.dev~1payments-writers'), undefined);
  assert.equal(value('/metadata/annotations/idgate.dev~1groups'), '[]');
});

test('a binding change reaches the next Pod: upsert, delete, replaceAll', () => {
  const index = new BindingIndex();
  index.upsert({ namespace: 'payments', name: 'writers', issuer: TEST_ISSUER, groups: ['payments-writers'], serviceAccounts: ['api'] });
  index.markSynced();
  const { value } = handlerWith(index, testBaseline());
  const groups = () => value('/metadata/annotations/idgate.dev~1groups');
  assert.equal(groups(), '["payments-writers"]');
  index.upsert({ namespace: 'payments', name: 'readers', issuer: TEST_ISSUER, groups: ['ledger-readers'], serviceAccounts: ['api'] });
  assert.equal(groups(), '["ledger-readers","payments-writers"]');
  assert.equal(value('/metadata/labels/group.idgate.dev~1ledger-readers'), 'true');
  index.upsert({ namespace: 'payments', name: 'readers', issuer: TEST_ISSUER, groups: ['payments-readers'], serviceAccounts: ['api'] });
  assert.equal(groups(), '["payments-readers","payments-writers"]');
  index.delete('payments', 'writers');
  assert.equal(groups(), '["payments-readers"]');
  index.replaceAll([{ namespace: 'payments', name: 'admins', issuer: TEST_ISSUER, groups: ['payments-admins'], serviceAccounts: ['api'] }]);
  assert.equal(groups(), '["payments-admins"]');
  assert.equal(value('/metadata/annotations/idgate.dev~1bindings'), 'payments/admins');
});

test('a resolver without a generation is asked for every Pod', () => {
  const index = identities();
  const resolver: IdentityResolver = {
    ready: () => index.ready(),
    resolve: (...args) => index.resolve(...args),
    providesGroupLabel: (...args) => index.providesGroupLabel(...args),
    namespaceLabels: (ns) => index.namespaceLabels(ns),
    namespaceTerminating: (ns) => index.namespaceTerminating(ns),
  };
  const { value } = handlerWith(resolver, testBaseline());
  assert.equal(value('/metadata/labels/group.idgate.dev~1payments-writers'), 'true');
  index.replaceAll([]);
  assert.equal(value('/metadata/labels/group.idgate.dev~1payments-writers'), undefined);
});

test('BindingIndex.generation changes with every change of the bindings, and only then', () => {
  const index = new BindingIndex();
  const seen = [index.generation()];
  const changed = () => {
    const now = index.generation();
    const fresh = !seen.includes(now);
    seen.push(now);
    return fresh;
  };
  index.upsert({ namespace: 'a', name: 'b', issuer: TEST_ISSUER, groups: ['g'], serviceAccounts: ['sa'] });
  assert.ok(changed(), 'upsert');
  index.delete('a', 'b');
  assert.ok(changed(), 'delete');
  index.delete('a', 'unknown');
  assert.ok(!changed(), 'deleting nothing');
  index.setNamespace('a', {});
  index.markSynced();
  assert.ok(!changed(), 'namespaces and sync');
  index.replaceAll([]);
  assert.ok(changed(), 'replaceAll');
});
