import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/admission/k8s.ts';
import { evaluate, findingMode, judgesKind, modeFor } from '../../src/baseline/evaluate.ts';
import type { Operation } from '../../src/admission/types.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { testBaseline, type BaselineOverrides } from '../support/baseline.ts';

function identity(ready = true): BindingIndex {
  const index = new BindingIndex();
  index.upsert({ namespace: 'shop', name: 'web', issuer: 'https://keycloak.example.com/realms/prod', groups: ['shop-readers'], serviceAccounts: ['web'] });
  if (ready) index.markSynced();
  return index;
}

/** A Pod breaking pod-service-account (default SA) and pod-host-network, nothing else. */
const badPod: KubeObject = { kind: 'Pod', metadata: { name: 'p' }, spec: { hostNetwork: true, containers: [{ name: 'app', image: 'a' }] } };
const hostNetworkOnly: KubeObject = {
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { serviceAccountName: 'web', hostNetwork: true, containers: [{ name: 'app', image: 'a' }] },
};
const hostNetworkDeployment: KubeObject = {
  kind: 'Deployment',
  metadata: { name: 'd' },
  spec: {
    template: {
      metadata: { annotations: { 'idgate.dev/inject': 'false' } },
      spec: { serviceAccountName: 'web', hostNetwork: true, containers: [{ name: 'app', image: 'a' }] },
    },
  },
};

const run = (object: KubeObject, overrides: BaselineOverrides = {}, namespace = 'shop', operation: Operation = 'CREATE', ready = true) =>
  evaluate({ kind: object.kind ?? '', operation, namespace, object }, { baseline: testBaseline(overrides), identity: identity(ready) });

const summary = (d: ReturnType<typeof run>) => d.violations.map((v) => `${v.rule}:${v.mode}:${v.denies ? 'deny' : 'warn'}`).sort();

test('global enforce denies and lists every violation with its mode', () => {
  const d = run(badPod);
  assert.equal(d.allowed, false);
  assert.equal(d.retryable, false);
  assert.deepEqual(summary(d), ['pod-host-network:enforce:deny', 'pod-service-account:enforce:deny']);
  assert.deepEqual(d.violations.map((v) => v.path).sort(), ['spec.hostNetwork', 'spec.serviceAccountName']);
});

test('a namespace mode overrides the global one; a rule mode overrides both', () => {
  assert.deepEqual(summary(run(badPod, {}, 'sandbox')), ['pod-host-network:audit:warn', 'pod-service-account:audit:warn']);
  const d = run(badPod, { rules: { 'pod-host-network': 'enforce' } }, 'sandbox');
  assert.equal(d.allowed, false);
  assert.deepEqual(summary(d), ['pod-host-network:enforce:deny', 'pod-service-account:audit:warn']);
  assert.deepEqual(summary(run(badPod, { mode: 'audit', rules: { 'pod-service-account': 'off' } })), ['pod-host-network:audit:warn']);
  assert.deepEqual(summary(run(badPod, { namespaces: { shop: { mode: 'off' } } })), []);
  assert.equal(
    modeFor(testBaseline({ mode: 'off', namespaces: { a: { mode: 'audit' } }, rules: { 'pod-sidecar': 'enforce' } }), 'pod-sidecar', 'a'),
    'enforce',
  );
});

test('exempt namespaces and unjudged kinds are skipped', () => {
  assert.deepEqual(run(badPod, {}, 'kube-system'), { skipped: 'exempt-namespace', violations: [], unavailable: [], allowed: true, retryable: false });
  assert.equal(run({ kind: 'ConfigMap', metadata: { name: 'c' } }).skipped, 'kind-not-judged');
  assert.equal(judgesKind('CronJob'), true);
  assert.equal(judgesKind('Service'), false);
});

test('warnOnly violations never deny, even in enforce', () => {
  const np: KubeObject = {
    kind: 'NetworkPolicy',
    metadata: { name: 'n' },
    spec: {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { 'group.idgate.dev/nobody-has-this': 'true' } } }], ports: [{ port: 4180 }] }],
    },
  };
  const d = run(np);
  assert.equal(d.allowed, true);
  assert.deepEqual(summary(d), ['networkpolicy-unknown-group:enforce:warn']);
  assert.equal(d.violations[0]?.warnOnly, true);
});

test('workload-template takes the mode of the pod rule it breaks; rules.workload-template can only soften it', () => {
  const denies = (o: BaselineOverrides) => run(hostNetworkDeployment, o).violations.map((v) => `${v.podRule}:${v.mode}`);
  assert.deepEqual(denies({}), ['pod-host-network:enforce']);
  assert.deepEqual(denies({ rules: { 'pod-host-network': 'audit' } }), ['pod-host-network:audit']);
  assert.deepEqual(denies({ rules: { 'pod-host-network': 'off' } }), []);
  assert.deepEqual(denies({ rules: { 'workload-template': 'audit' } }), ['pod-host-network:audit']);
  assert.deepEqual(denies({ rules: { 'workload-template': 'off' } }), []);
  assert.deepEqual(denies({ mode: 'audit', rules: { 'workload-template': 'enforce' } }), ['pod-host-network:audit']);
  assert.deepEqual(denies({ namespaces: { shop: { mode: 'audit' } } }), ['pod-host-network:audit']);
  const b = testBaseline({ rules: { 'workload-template': 'audit' } });
  assert.equal(findingMode(b, { rule: 'workload-template', podRule: 'pod-sidecar', path: '', message: '' }, 'x'), 'audit');
});

test('identity cache not synced: a retryable denial in enforce with onUnavailable deny', () => {
  const optedOut: KubeObject = {
    kind: 'Pod',
    metadata: { name: 'p', annotations: { 'idgate.dev/inject': 'false' } },
    spec: { serviceAccountName: 'web', containers: [{ name: 'a' }] },
  };
  const d = run(optedOut, {}, 'shop', 'CREATE', false);
  assert.equal(d.allowed, false);
  assert.equal(d.retryable, true);
  assert.deepEqual(d.violations, []);
  assert.deepEqual(d.unavailable.map((v) => `${v.rule}:${v.denies}`).sort(), ['pod-max-groups:true', 'pod-service-account:true']);
  assert.match(d.unavailable[0]?.message ?? '', /syncing; retry/);
  // With a definite violation as well, the denial is not merely retryable.
  const both = run({ ...optedOut, spec: { ...(optedOut.spec as object), hostNetwork: true } }, {}, 'shop', 'CREATE', false);
  assert.equal(both.allowed, false);
  assert.equal(both.retryable, false);
});

test('identity cache not synced: skipped with a warning when onUnavailable is allow or the mode is audit; other rules still run', () => {
  for (const overrides of [{ identity: { onUnavailable: 'allow' as const } }, { mode: 'audit' as const }]) {
    const d = run(hostNetworkOnly, overrides, 'shop', 'CREATE', false);
    assert.equal(d.allowed, overrides.mode !== undefined, JSON.stringify(overrides));
    assert.deepEqual(
      d.violations.map((v) => v.rule),
      ['pod-host-network'],
    );
    assert.ok(d.unavailable.length > 0 && d.unavailable.every((v) => !v.denies));
    assert.equal(d.retryable, false);
  }
});

test('a DELETE the API server sent without oldObject is judged by the request name', () => {
  const d = evaluate(
    { kind: 'NetworkPolicy', operation: 'DELETE', namespace: 'payments', name: 'idgate-default-deny' },
    { baseline: testBaseline(), identity: identity() },
  );
  assert.deepEqual(
    d.violations.map((v) => `${v.rule} ${v.path}`),
    ['networkpolicy-default-deny metadata.name'],
  );
  assert.equal(d.allowed, false);
});

test('a rule that throws on a malformed object fails closed under its own rule id', () => {
  const d = run({ kind: 'Pod', metadata: { name: 'p', annotations: { 'idgate.dev/inject': 5 as unknown as string } }, spec: { serviceAccountName: 'web' } });
  assert.equal(d.allowed, false);
  const crashed = d.violations.find((v) => v.message.startsWith('could not be evaluated'));
  assert.equal(crashed?.rule, 'pod-sidecar');
});
