import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import fjp from 'fast-json-patch';
import { pino } from 'pino';
import type { Pod } from '../../src/admission/k8s.ts';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import type { Baseline } from '../../src/config/baseline.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { IDENTITY_UNAVAILABLE_CODE, createMutateHandler, type MutationOutcome } from '../../src/mutate/handler.ts';
import { IDENTITY_UNAVAILABLE_WARNING } from '../../src/mutate/mutate.ts';
import { testBaseline, TEST_ISSUER, type BaselineOverrides } from '../support/baseline.ts';
import { CONTROL_CHARACTER } from '../support/text.ts';

const pod = (): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'api-6f7d8-', labels: { app: 'api' } },
  spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }] },
});

const request = (over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: 'uid-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: 'payments',
  operation: 'CREATE',
  object: pod(),
  ...over,
});

function setup(opts: { baseline?: BaselineOverrides; synced?: boolean } = {}) {
  const identity = new BindingIndex();
  identity.upsert({ namespace: 'payments', name: 'writers', issuer: TEST_ISSUER, groups: ['payments-writers'], serviceAccounts: ['api'] });
  if (opts.synced ?? true) identity.markSynced();
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  let baseline: Baseline = testBaseline(opts.baseline);
  const outcomes: MutationOutcome[] = [];
  const handler = createMutateHandler({
    baseline: () => baseline,
    identity,
    logger: pino({ level: 'debug' }, sink),
    version: '0.1.0',
    onOutcome: (o) => outcomes.push(o),
  });
  const run = (r: AdmissionRequest): AdmissionResult => handler(r) as AdmissionResult;
  return {
    run,
    identity,
    lines,
    outcomes,
    setBaseline: (b: Baseline) => {
      baseline = b;
    },
  };
}

test('Pod CREATE is patched; the log field carries injected and reason', () => {
  const { run, outcomes } = setup();
  const result = run(request());
  assert.deepEqual(outcomes, ['injected']);
  assert.equal(result.allowed, true);
  assert.ok(result.patch && result.patch.length > 0);
  assert.equal(result.log?.injected, true);
  assert.match(String(result.log?.reason), /^injected idgate-proxy/);
  assert.equal(result.log?.patchOps, result.patch.length);
  const out = fjp.applyPatch(pod(), result.patch as fjp.Operation[], true, false).newDocument as Pod;
  assert.equal(out.spec?.initContainers?.[0]?.name, 'idgate-proxy');
  assert.equal(out.metadata?.labels?.['group.idgate.dev/payments-writers'], 'true');
});

test('operations other than CREATE are allowed unchanged', () => {
  const { run } = setup();
  for (const operation of ['UPDATE', 'DELETE', 'CONNECT'] as const) {
    const result = run(request({ operation, oldObject: pod() }));
    assert.equal(result.allowed, true);
    assert.equal(result.patch, undefined, operation);
    assert.match(String(result.log?.reason), new RegExp(`operation ${operation} is not mutated`));
  }
});

test('an object that is not a Pod is allowed unchanged and logged', () => {
  const { run, lines } = setup();
  const deployment = run(request({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, object: { kind: 'Deployment' } }));
  assert.equal(deployment.allowed, true);
  assert.equal(deployment.patch, undefined);
  assert.match(String(deployment.log?.reason), /kind Deployment is not mutated/);
  const subresource = run(request({ subResource: 'ephemeralcontainers' }));
  assert.equal(subresource.patch, undefined);
  const noObject = run(request({ object: null }));
  assert.equal(noObject.allowed, true);
  assert.equal(noObject.patch, undefined);
  assert.ok(lines.length >= 3 && lines.every((l) => l.level === 40), 'each is a warn log line');
});

test('mutation: dry-run returns no patch, and warnings plus log say what would have been done', () => {
  const { run, outcomes } = setup({ baseline: { mutation: 'dry-run' } });
  const result = run(request());
  assert.deepEqual(outcomes, ['dry-run'], 'and the metric counts it as dry-run');
  assert.equal(result.allowed, true);
  assert.equal(result.patch, undefined);
  assert.ok(result.warnings && result.warnings.length > 0);
  assert.match(result.warnings[0]!, /^idgate dry-run: would inject the idgate-proxy sidecar; \d+ patch operation\(s\) not applied$/);
  for (const w of result.warnings) assert.ok(w.length <= 120 && !CONTROL_CHARACTER.test(w), w);
  assert.equal(result.log?.mutationDryRun, true);
  assert.equal(typeof result.log?.dryRunPatch, 'number');
  assert.ok((result.log?.dryRunPatch as number) > 0);
  assert.equal(result.log?.injected, true);
});

test('dry-run on a Pod that needs nothing says so', () => {
  const { run, setBaseline } = setup();
  const first = run(request());
  const out = fjp.applyPatch(pod(), first.patch as fjp.Operation[], true, false).newDocument;
  setBaseline(testBaseline({ mutation: 'dry-run' }));
  const result = run(request({ object: out }));
  assert.deepEqual(result.warnings, ['idgate dry-run: the Pod needs no change']);
  assert.equal(result.log?.dryRunPatch, 0);
});

test('the baseline is read per request (hot reload)', () => {
  const { run, setBaseline } = setup();
  assert.ok(run(request()).patch);
  setBaseline(testBaseline({ exemptNamespaces: ['payments'] }));
  assert.equal(run(request()).patch, undefined);
});

test('identity cache not synced, onUnavailable deny: refused with a retryable 503', () => {
  const { run } = setup({ synced: false });
  const result = run(request());
  assert.equal(result.allowed, false);
  assert.equal(result.status?.code, IDENTITY_UNAVAILABLE_CODE);
  assert.equal(result.status?.reason, 'ServiceUnavailable');
  assert.match(result.status?.message ?? '', /not synced yet.*Pod payments\/api-6f7d8-\*.*retry/);
  assert.equal(result.patch, undefined);
});

test('identity cache not synced: exempt namespaces are never refused', () => {
  const { run } = setup({ synced: false });
  const result = run(request({ namespace: 'kube-system' }));
  assert.equal(result.allowed, true);
  assert.equal(result.patch, undefined);
});

test('identity cache not synced, onUnavailable allow: mutated without groups, with a warning', () => {
  const { run } = setup({ synced: false, baseline: { identity: { onUnavailable: 'allow' } } });
  const result = run(request());
  assert.equal(result.allowed, true);
  assert.deepEqual(result.warnings, [IDENTITY_UNAVAILABLE_WARNING]);
  const out = fjp.applyPatch(pod(), result.patch as fjp.Operation[], true, false).newDocument as Pod;
  assert.deepEqual(out.metadata?.labels, { app: 'api', 'idgate.dev/service-account': 'api' });
  assert.equal(out.spec?.initContainers?.[0]?.name, 'idgate-proxy');
});

test('identity cache not synced in dry-run: never refused', () => {
  const { run } = setup({ synced: false, baseline: { mutation: 'dry-run' } });
  const result = run(request());
  assert.equal(result.allowed, true);
  assert.equal(result.patch, undefined);
  assert.ok(result.warnings?.includes(IDENTITY_UNAVAILABLE_WARNING));
});
