import { test } from 'node:test';
import assert from 'node:assert/strict';
import fjp from 'fast-json-patch';
import type { Pod } from '../../src/admission/k8s.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { IDENTITY_UNAVAILABLE_WARNING, mutatePod, type MutateContext } from '../../src/mutate/mutate.ts';
import { TOKEN_MOUNT_PATH } from '../../src/mutate/sidecar.ts';
import { testBaseline, TEST_ISSUER } from '../support/baseline.ts';

function index(synced = true): BindingIndex {
  const idx = new BindingIndex();
  idx.upsert({ namespace: 'payments', name: 'writers', issuer: TEST_ISSUER, groups: ['payments-writers', 'a~b/c'], serviceAccounts: ['api'] });
  if (synced) idx.markSynced();
  return idx;
}

const ctx = (over: Partial<MutateContext> = {}): MutateContext => ({
  baseline: testBaseline(),
  identity: index(),
  namespace: 'payments',
  version: '0.1.0',
  ...over,
});

const basePod = (): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'api', labels: { app: 'api' } },
  spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }] },
});

const apply = (pod: Pod, patch: unknown[]): Pod => fjp.applyPatch(structuredClone(pod), patch as fjp.Operation[], true, false).newDocument;

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

test('label keys with / are escaped as ~1 in the patch and land as one key', () => {
  const pod = basePod();
  const { patch } = mutatePod(pod, ctx());
  const paths = patch.map((op) => op.path);
  assert.ok(paths.includes('/metadata/labels/group.idgate.dev~1payments-writers'), paths.join(' '));
  assert.ok(paths.includes('/metadata/labels/idgate.dev~1service-account'));
  assert.ok(!paths.some((p) => p.startsWith('/metadata/labels/') && p.slice('/metadata/labels/'.length).includes('/')), 'no unescaped / inside a label key');
  // Unescaped, a JSON-Patch implementation reads idgate.dev as a parent map and throws.
  const out = apply(pod, patch);
  assert.equal(out.metadata?.labels?.['group.idgate.dev/payments-writers'], 'true');
  assert.equal(out.metadata?.labels?.['idgate.dev/service-account'], 'api');
});

test('a spoofed key containing ~ is removed with ~0 escaping', () => {
  const pod = basePod();
  pod.metadata!.labels!['group.idgate.dev/x~y'] = 'true';
  const { patch } = mutatePod(pod, ctx());
  assert.ok(patch.some((op) => op.op === 'remove' && op.path === '/metadata/labels/group.idgate.dev~1x~0y'));
  assert.equal(apply(pod, patch).metadata?.labels?.['group.idgate.dev/x~y'], undefined);
});

test('mutatePod never modifies its input (a deeply frozen Pod)', () => {
  const pod = deepFreeze(basePod());
  const result = mutatePod(pod, ctx());
  assert.equal(result.injected, true);
  assert.ok(result.patch.length > 0);
});

test('the namespace comes from the context, not metadata', () => {
  const pod = basePod();
  pod.metadata!.namespace = 'elsewhere';
  const out = apply(pod, mutatePod(pod, ctx()).patch);
  assert.equal(out.metadata?.annotations?.['idgate.dev/bindings'], 'payments/writers');
});

test('a sidecar in containers is recognised in native mode: never a second one', () => {
  const pod = basePod();
  pod.spec!.containers!.push({
    name: 'idgate-proxy',
    image: 'old',
    volumeMounts: [{ name: 'kube-api-access-abc', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
  });
  const result = mutatePod(pod, ctx());
  assert.equal(result.injected, false);
  assert.match(result.reason, /already present/);
  assert.ok(!result.patch.some((op) => op.path.startsWith('/spec/initContainers')), 'nothing added to initContainers');
  const out = apply(pod, result.patch);
  assert.equal(out.spec?.containers?.[1]?.image, 'old', 'the existing sidecar is left as found');
  assert.equal(out.spec?.containers?.[1]?.volumeMounts?.length, 1, 'no token mount in the sidecar');
  // Only the injecting pass mounts the token: a container that appears later was added by
  // another webhook (volume.ts), so a Pod found with the sidecar gets no new mount.
  assert.equal(out.spec?.containers?.[0]?.volumeMounts, undefined, 'no mount added on a pass that did not inject');
  assert.ok(!result.patch.some((op) => op.path.startsWith('/spec/volumes')), 'no volume added either');
  assert.equal(out.metadata?.annotations?.['idgate.dev/injected'], '0.1.0');
});

test('exempt namespace: empty patch even with spoofed labels', () => {
  const pod = basePod();
  pod.metadata!.labels!['group.idgate.dev/admins'] = 'true';
  const result = mutatePod(pod, ctx({ namespace: 'kube-system' }));
  assert.deepEqual(result.patch, []);
  assert.match(result.reason, /exempt/);
});

test('identity cache not synced: only the ServiceAccount label, spoofed groups removed, a warning', () => {
  const pod = basePod();
  pod.metadata!.labels!['group.idgate.dev/admins'] = 'true';
  pod.metadata!.annotations = { 'idgate.dev/groups': '["admins"]' };
  const result = mutatePod(pod, ctx({ identity: index(false) }));
  assert.deepEqual(result.warnings, [IDENTITY_UNAVAILABLE_WARNING]);
  const out = apply(pod, result.patch);
  assert.deepEqual(out.metadata?.labels, { app: 'api', 'idgate.dev/service-account': 'api' });
  assert.deepEqual(out.metadata?.annotations, { 'idgate.dev/injected': '0.1.0', 'idgate.dev/upstream-container': 'app' }, 'no claim of "no groups"');
  assert.equal(result.injected, true, 'the sidecar needs no identity cache');
});

test('ServiceAccount names too long for a label value are encoded like groups', () => {
  const pod = basePod();
  const long = 'a'.repeat(70);
  pod.spec!.serviceAccountName = long;
  const value = apply(pod, mutatePod(pod, ctx()).patch).metadata?.labels?.['idgate.dev/service-account'];
  assert.ok(value !== undefined && value.length <= 63 && value !== long, value);
});

test('token mount: another volume at the mount path is left alone with a warning', () => {
  const pod = basePod();
  pod.spec!.containers![0]!.volumeMounts = [{ name: 'mine', mountPath: TOKEN_MOUNT_PATH }];
  const result = mutatePod(pod, ctx());
  assert.match(result.warnings.join('\n'), /container "app" already mounts another volume/);
  const out = apply(pod, result.patch);
  assert.equal(out.spec?.containers?.[0]?.volumeMounts?.length, 1);
});

test('an existing idgate-token volume is not duplicated; a foreign one is reported', () => {
  const pod = basePod();
  pod.spec!.volumes = [{ name: 'idgate-token', emptyDir: {} }];
  const result = mutatePod(pod, ctx());
  const out = apply(pod, result.patch);
  assert.equal(out.spec?.volumes?.filter((v) => v.name === 'idgate-token').length, 1);
  assert.match(result.warnings.join('\n'), /volume idgate-token exists and is not idgate's/);
});

test('container mode appends the sidecar after the app containers', () => {
  const pod = basePod();
  const result = mutatePod(pod, ctx({ baseline: testBaseline({ sidecar: { mode: 'container' } }) }));
  const out = apply(pod, result.patch);
  assert.deepEqual(
    out.spec?.containers?.map((c) => c.name),
    ['app', 'idgate-proxy'],
  );
  assert.equal(out.spec?.containers?.[1]?.restartPolicy, undefined);
  assert.equal(out.spec?.initContainers, undefined);
});

test('a Pod without metadata gets it added whole', () => {
  const pod: Pod = { spec: basePod().spec! };
  const out = apply(pod, mutatePod(pod, ctx()).patch);
  assert.equal(out.metadata?.labels?.['idgate.dev/service-account'], 'api');
});

test('a mesh proxy present at injection is neither the upstream nor given the token', () => {
  const pod = basePod();
  pod.spec!.containers!.unshift({ name: 'istio-proxy', image: 'proxyv2', ports: [{ containerPort: 15090 }] });
  const out = apply(pod, mutatePod(pod, ctx()).patch);
  assert.equal(out.metadata?.annotations?.['idgate.dev/upstream-container'], 'app');
  assert.ok(out.spec?.initContainers?.[0]?.args?.includes('--upstream=http://127.0.0.1:8080'));
  assert.equal(out.spec?.containers?.[0]?.volumeMounts, undefined, 'istio-proxy gets no idgate token');
  assert.equal(out.spec?.containers?.[1]?.volumeMounts?.[0]?.mountPath, TOKEN_MOUNT_PATH);
});

test('reinvocation after another webhook added a proxy: nothing mounted into it', () => {
  const first = apply(basePod(), mutatePod(basePod(), ctx()).patch);
  first.spec!.containers!.unshift({ name: 'late-proxy', image: 'p:1', ports: [{ containerPort: 15001 }] });
  const again = mutatePod(first, ctx());
  assert.deepEqual(again.patch, [], 'no change: the late container was not seen at injection');
});

test('kubernetesIssuer: the sidecar alone gets its own API credentials, also with automount off', () => {
  const pod = basePod();
  pod.spec!.automountServiceAccountToken = false;
  const baseline = testBaseline({ sidecar: { kubernetesIssuer: 'https://kubernetes.default.svc.cluster.local' } });
  const out = apply(pod, mutatePod(pod, ctx({ baseline })).patch);
  const sidecar = out.spec?.initContainers?.[0];
  assert.deepEqual(sidecar?.volumeMounts, [{ name: 'idgate-kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }]);
  const volume = out.spec?.volumes?.find((v) => v.name === 'idgate-kube-api-access');
  assert.ok(volume, 'the credentials volume is added');
  assert.ok(!out.spec?.containers?.[0]?.volumeMounts?.some((m) => m.name === 'idgate-kube-api-access'), 'never in the app');
  assert.equal(out.spec?.automountServiceAccountToken, false, "the Pod's choice is kept");
});
