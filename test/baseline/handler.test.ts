import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { KubeObject } from '../../src/admission/k8s.ts';
import type { AdmissionRequest } from '../../src/admission/types.ts';
import { createValidateHandler, formatWarning, MAX_WARNING_LENGTH } from '../../src/baseline/handler.ts';
import type { Operation } from '../../src/admission/types.ts';
import type { Baseline } from '../../src/config/baseline.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { testBaseline, type BaselineOverrides } from '../support/baseline.ts';
import { CONTROL_CHARACTER } from '../support/text.ts';

const logger = pino({ level: 'silent' });

function identity(ready = true): BindingIndex {
  const index = new BindingIndex();
  index.upsert({ namespace: 'shop', name: 'web', issuer: 'https://keycloak.example.com/realms/prod', groups: ['shop-readers'], serviceAccounts: ['web'] });
  if (ready) index.markSynced();
  return index;
}

/** Breaks pod-service-account (default SA) and pod-host-network, and nothing else. */
const violatingPod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { hostNetwork: true, containers: [{ name: 'app', image: 'a' }] },
};

function request(object: KubeObject | undefined, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  const kind = object?.kind ?? 'Pod';
  return {
    uid: 'uid-1',
    kind: { group: '', version: 'v1', kind },
    resource: { group: '', version: 'v1', resource: `${kind.toLowerCase()}s` },
    namespace: 'shop',
    operation: 'CREATE' as Operation,
    object: object ?? null,
    ...extra,
  };
}

const handle = async (overrides: BaselineOverrides, req: AdmissionRequest, ready = true) => {
  const baseline: Baseline = testBaseline(overrides);
  return createValidateHandler({ baseline: () => baseline, identity: identity(ready), logger })(req);
};

const EXPECTED_LINES = [
  '[pod-service-account] spec.serviceAccountName: uses the "default" ServiceAccount, which every workload of namespace shop shares; create a dedicated ServiceAccount, bind it with an OIDCGroupBinding and set spec.serviceAccountName',
  '[pod-host-network] spec.hostNetwork: hostNetwork: true puts the Pod on the node network, where no NetworkPolicy applies and no sidecar is injected; remove it',
];

test('enforce: denied with 403 and one message listing every violation', async () => {
  const r = await handle({}, request(violatingPod));
  assert.equal(r.allowed, false);
  assert.equal(r.status?.code, 403);
  assert.equal(r.status?.reason, 'Forbidden');
  assert.equal(r.status?.message, EXPECTED_LINES.join('\n'));
  assert.equal(r.warnings, undefined);
  assert.deepEqual(r.auditAnnotations, { violations: 'pod-service-account,pod-host-network' });
  assert.deepEqual(r.log?.violations, ['pod-service-account', 'pod-host-network']);
});

test('audit: allowed, one short warning per violation, and the rule ids as audit annotation', async () => {
  const r = await handle({ mode: 'audit' }, request(violatingPod));
  assert.equal(r.allowed, true);
  assert.equal(r.status, undefined);
  assert.deepEqual(r.warnings, [
    '[pod-service-account] spec.serviceAccountName: uses the "default" ServiceAccount, which every workload of namespace...',
    '[pod-host-network] spec.hostNetwork: hostNetwork: true puts the Pod on the node network, where no NetworkPolicy...',
  ]);
  for (const w of r.warnings ?? []) assert.ok(w.length <= MAX_WARNING_LENGTH, w);
  assert.deepEqual(r.auditAnnotations, { violations: 'pod-service-account,pod-host-network' });
});

test('off: nothing at all', async () => {
  const r = await handle({ mode: 'off' }, request(violatingPod));
  assert.deepEqual(r, { allowed: true, log: { violations: [] } });
});

test('a namespace override flips the outcome both ways', async () => {
  const sandbox = await handle({}, request(violatingPod, { namespace: 'sandbox' }));
  assert.equal(sandbox.allowed, true);
  assert.equal(sandbox.warnings?.length, 2);
  const strict = await handle({ mode: 'audit', namespaces: { shop: { mode: 'enforce' } } }, request(violatingPod));
  assert.equal(strict.allowed, false);
});

test('a rule override flips the outcome, and the message lists only what denies', async () => {
  const relaxed = await handle({ rules: { 'pod-service-account': 'audit', 'pod-host-network': 'audit' } }, request(violatingPod));
  assert.equal(relaxed.allowed, true);
  const one = await handle({ rules: { 'pod-service-account': 'audit' } }, request(violatingPod));
  assert.equal(one.allowed, false);
  assert.equal(one.status?.message, EXPECTED_LINES[1]);
  assert.equal(one.warnings?.length, 1);
  assert.match(one.warnings?.[0] ?? '', /^\[pod-service-account\] spec\.serviceAccountName: /);
  const strict = await handle({ mode: 'audit', rules: { 'pod-host-network': 'enforce' } }, request(violatingPod, { namespace: 'sandbox' }));
  assert.equal(strict.allowed, false);
});

test('dryRun requests are judged the same way', async () => {
  const r = await handle({}, request(violatingPod, { dryRun: true }));
  assert.equal(r.allowed, false);
  assert.equal(r.status?.message, EXPECTED_LINES.join('\n'));
});

test('kinds idgate does not judge, subresources and exempt namespaces are allowed', async () => {
  assert.equal((await handle({}, request({ kind: 'ConfigMap', metadata: { name: 'c' } }))).allowed, true);
  assert.equal((await handle({}, request(violatingPod, { subResource: 'status', operation: 'UPDATE', oldObject: violatingPod }))).allowed, true);
  assert.equal((await handle({}, request({ kind: 'Scale', metadata: { name: 'd' } }, { subResource: 'scale', operation: 'UPDATE' }))).allowed, true);
  assert.equal((await handle({}, request(violatingPod, { subResource: 'ephemeralcontainers', operation: 'UPDATE', oldObject: violatingPod }))).allowed, true);
  const exempt = await handle({}, request(violatingPod, { namespace: 'kube-system' }));
  assert.equal(exempt.allowed, true);
  assert.equal(exempt.log?.reason, 'exempt-namespace');
});

test('Pod label spoofing on UPDATE is denied through the handler', async () => {
  const old: KubeObject = {
    kind: 'Pod',
    metadata: { name: 'p', labels: { 'idgate.dev/service-account': 'web', 'group.idgate.dev/shop-readers': 'true' } },
    spec: { serviceAccountName: 'web' },
  };
  const spoofed: KubeObject = { ...old, metadata: { name: 'p', labels: { ...old.metadata?.labels, 'group.idgate.dev/payments-writers': 'true' } } };
  const r = await handle({}, request(spoofed, { operation: 'UPDATE', oldObject: old }));
  assert.equal(r.allowed, false);
  assert.equal(
    r.status?.message,
    '[pod-identity-labels] metadata.labels[group.idgate.dev/payments-writers]: identity label added on a running Pod; only idgate changes them, when bindings change',
  );
});

test('DELETE: the object judged is oldObject', async () => {
  const dd: KubeObject = {
    kind: 'NetworkPolicy',
    metadata: { name: 'idgate-default-deny', namespace: 'payments' },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  };
  const r = await handle(
    {},
    request(undefined, {
      kind: { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' },
      namespace: 'payments',
      operation: 'DELETE',
      object: null,
      oldObject: dd,
      name: 'idgate-default-deny',
    }),
  );
  assert.equal(r.allowed, false);
  assert.match(r.status?.message ?? '', /^\[networkpolicy-default-deny\] metadata\.name: deleting idgate-default-deny/);
});

test('identity cache syncing: a retryable 503 denial naming the cause', async () => {
  const pod: KubeObject = {
    kind: 'Pod',
    metadata: { name: 'p', annotations: { 'idgate.dev/inject': 'false' } },
    spec: { serviceAccountName: 'web', containers: [{ name: 'a' }] },
  };
  const r = await handle({}, request(pod), false);
  assert.equal(r.allowed, false);
  assert.equal(r.status?.code, 503);
  assert.match(r.status?.message ?? '', /\[pod-service-account\] spec\.serviceAccountName: the identity cache \(OIDCGroupBindings\) is still syncing; retry/);
  assert.deepEqual(r.log?.identityUnavailable, ['pod-service-account', 'pod-max-groups']);
  const allowed = await handle({ identity: { onUnavailable: 'allow' } }, request(pod), false);
  assert.equal(allowed.allowed, true);
  assert.match(allowed.warnings?.[0] ?? '', /^\[pod-service-account\] spec\.serviceAccountName: not checked: the identity cache/);
});

test('warnings: no control characters, rule id and path kept whole, message shortened', () => {
  const w = formatWarning({ rule: 'pod-sidecar', path: 'spec.initContainers[0].image', message: `bad\u0007value\nwith ${'x'.repeat(200)}` });
  assert.doesNotMatch(w, CONTROL_CHARACTER);
  assert.ok(w.length <= MAX_WARNING_LENGTH);
  assert.match(w, /^\[pod-sidecar\] spec\.initContainers\[0\]\.image: bad value with x+\.\.\.$/);
  assert.equal(formatWarning({ rule: 'pod-host-network', path: 'spec.hostNetwork', message: 'short' }), '[pod-host-network] spec.hostNetwork: short');
  // A path too long to leave room still keeps the path, and a shortened message.
  const long = formatWarning({ rule: 'workload-template', path: `spec.template.metadata.labels[${'a'.repeat(110)}]`, message: 'y'.repeat(50) });
  assert.ok(long.includes('a'.repeat(110)));
  assert.match(long, /: y{20}\.\.\.$/);
});

test('identity integrity through the handler: every mode, pods/status, only idgate relabels, plain namespaces judged for nothing else', async () => {
  const self = 'system:serviceaccount:idgate-system:idgate';
  const handler = (overrides: BaselineOverrides, scope: 'baseline' | 'integrity' = 'baseline') =>
    createValidateHandler({ baseline: () => testBaseline(overrides), identity: identity(true), logger, scope, selfUsername: () => self });
  const old: KubeObject = { kind: 'Pod', metadata: { name: 'p', labels: { app: 'web' } }, spec: { serviceAccountName: 'web' } };
  const spoofed: KubeObject = { ...old, metadata: { name: 'p', labels: { app: 'web', 'group.idgate.dev/payments-admins': 'true' } } };
  const update = (user: string, extra: Partial<AdmissionRequest> = {}) =>
    request(spoofed, { operation: 'UPDATE', oldObject: old, userInfo: { username: user }, ...extra });

  for (const overrides of [{}, { mode: 'audit' as const }, { mode: 'off' as const }, { namespaces: { shop: { mode: 'audit' as const } } }]) {
    for (const scope of ['baseline', 'integrity'] as const) {
      const r = await handler(overrides, scope)(update('alice'));
      assert.equal(r.allowed, false, `${scope} ${JSON.stringify(overrides)}: spoofing is denied whatever the mode`);
    }
  }
  const viaStatus = await handler({}, 'integrity')(update('alice', { subResource: 'status' }));
  assert.equal(viaStatus.allowed, false);
  assert.match(viaStatus.status?.message ?? '', /label added on a running Pod through pods\/status/);
  assert.equal((await handler({}, 'integrity')(update(self, { subResource: 'status' }))).allowed, true, 'idgate relabels');
  assert.equal((await handler({})(update(self))).allowed, true);

  // A plain namespace's Pod on the default ServiceAccount with hostNetwork: none of idgate's business there.
  assert.equal((await handler({}, 'integrity')(request(violatingPod))).allowed, true);
  assert.equal((await handler({}, 'baseline')(request(violatingPod))).allowed, false);
  // A NetworkPolicy opening the app's port: refused where idgate injects, not judged elsewhere.
  const openApp: KubeObject = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'n' },
    spec: {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { 'group.idgate.dev/shop-readers': 'true' } } }], ports: [{ port: 8080 }] }],
    },
  };
  const npRequest = request(openApp, { kind: { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' } });
  assert.match(
    (await handler({})(npRequest)).status?.message ?? '',
    /^\[networkpolicy-sidecar-port\] spec\.ingress\[0\]\.ports\[0\]: opens port 8080, not the proxy port 4180/,
  );
  assert.equal((await handler({}, 'integrity')(npRequest)).allowed, true);
  const created = await handler({}, 'integrity')(request(spoofed));
  assert.equal(created.allowed, false);
  assert.match(created.status?.message ?? '', /in namespace shop, which is not enrolled/);
});
