/**
 * What happens to each golden Pod on a real API server after idgate's pass (docs/design.md#reinvocation
 * and #coexistence): the ServiceAccount admission plugin and the API server's defaulting run, another mutating
 * webhook puts its own proxy first in `containers`, and the API server reinvokes idgate. The
 * reinvocation must change nothing, and validation (evaluate(), the webhook's own) must judge
 * the Pod exactly as it judged idgate's output. The fixtures of docs/design.md#coexistence also have their
 * verdict pinned: admitted, or denied with the message the user will read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import fjp from 'fast-json-patch';
import type { Container, Pod } from '../../src/admission/k8s.ts';
import { evaluate } from '../../src/baseline/evaluate.ts';
import { formatViolation } from '../../src/baseline/handler.ts';
import { mutatePod } from '../../src/mutate/mutate.ts';
import { testBaseline } from '../support/baseline.ts';
import { BASELINE_FOR, BINDINGS_FILE, FIXTURES_DIR, fixtureBindings, loadPodFixture } from './fixtures.ts';

const apply = (pod: Pod, patch: unknown[]): Pod => fjp.applyPatch(structuredClone(pod), patch as fjp.Operation[], true, false).newDocument;

/** core/v1 defaulting of a container (SetDefaults_Container, _ContainerPort, _Probe, _HTTPGetAction). */
function defaultContainer(c: Container): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.imagePullPolicy ??= /:latest$|^[^:@]*$/.test(c.image ?? '') ? 'Always' : 'IfNotPresent';
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const probe = c[key] as Record<string, unknown> | undefined;
    if (probe === undefined) continue;
    probe.timeoutSeconds ??= 1;
    probe.periodSeconds ??= 10;
    probe.successThreshold ??= 1;
    probe.failureThreshold ??= 3;
    const httpGet = probe.httpGet as Record<string, unknown> | undefined;
    if (httpGet) httpGet.scheme ??= 'HTTP';
  }
}

const SA_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount, mountServiceAccountToken):
 * unless automount is off, a kube-api-access-<5> volume mounted read-only at the standard path in
 * every init container and container that does not already mount that path. Then defaulting.
 */
function serviceAccountPluginAndDefaults(pod: Pod): Pod {
  const out = structuredClone(pod);
  const spec = out.spec!;
  if (spec.automountServiceAccountToken !== false) {
    const existing = (spec.volumes ?? []).find((v) => v.name?.startsWith('kube-api-access-'));
    const name = existing?.name ?? 'kube-api-access-q7x2c';
    let needed = false;
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      if ((c.volumeMounts ?? []).some((m) => m.mountPath === SA_PATH)) continue;
      c.volumeMounts ??= [];
      c.volumeMounts.push({ name, readOnly: true, mountPath: SA_PATH });
      needed = true;
    }
    if (needed && existing === undefined) {
      spec.volumes ??= [];
      spec.volumes.push({
        name,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      });
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) defaultContainer(c);
  for (const v of spec.volumes ?? []) {
    const projected = v.projected as Record<string, unknown> | undefined;
    if (projected) projected.defaultMode ??= 420;
  }
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  return out;
}

/** A mesh injector running after idgate (Linkerd's shape, under a name idgate does not know): its proxy first. */
function secondInjector(pod: Pod): Pod {
  const out = structuredClone(pod);
  out.spec!.containers!.unshift({
    name: 'late-mesh-proxy',
    image: 'mesh.example.com/proxy:2.14',
    ports: [{ name: 'mesh-admin', containerPort: 4191, protocol: 'TCP' }],
  });
  out.metadata!.annotations = { ...out.metadata!.annotations, 'mesh.example.com/injected': 'true' };
  return out;
}

/** What the fixtures of docs/design.md#coexistence must get: admitted, or denied with this pod-sidecar message. */
const VERDICTS: Record<string, RegExp | 'admitted'> = {
  'mesh-before-idgate': 'admitted',
  'already-injected-mesh-first': 'admitted',
  'already-injected-digest-pinned': 'admitted',
  'kubernetes-issuer-no-automount': 'admitted',
  'kubernetes-issuer': 'admitted',
  windows:
    /^\[pod-sidecar\] spec\.os\.name: no idgate-proxy sidecar: it was not injected: idgate-proxy is Linux-only and this Pod runs on Windows \(spec\.os\.name\); run the workload on Linux, or opt it out with annotation idgate\.dev\/inject: "false"$/,
  'port-clash-native-sidecar':
    /^\[pod-sidecar\] metadata\.annotations\[idgate\.dev\/proxy-port\]: no idgate-proxy sidecar: it was not injected: proxy port 4180 is already a port of init container "oauth2-proxy"; set annotation idgate\.dev\/proxy-port to a free port$/,
};

const fixtures = readdirSync(FIXTURES_DIR)
  .filter((f) => f.endsWith('.yaml') && f !== BINDINGS_FILE)
  .sort();
const identity = fixtureBindings();

for (const file of fixtures) {
  const name = file.replace(/\.yaml$/, '');
  test(`coexistence: ${name}`, () => {
    const { pod, namespace } = loadPodFixture(file);
    const baseline = testBaseline(BASELINE_FOR[name]);
    const ctx = { baseline, identity, namespace, version: '0.1.0' };
    const judge = (p: Pod) => evaluate({ kind: 'Pod', operation: 'CREATE', namespace, object: p }, { baseline, identity });
    // Rule, message and whether it denies: a path may move with the container another webhook moved.
    const sidecarVerdict = (p: Pod) =>
      judge(p)
        .violations.filter((v) => v.rule === 'pod-sidecar')
        .map((v) => `${v.denies} ${v.message}`);

    const admitted = apply(pod, mutatePod(pod, ctx).patch);
    const expected = sidecarVerdict(admitted);

    const afterPlugins = secondInjector(serviceAccountPluginAndDefaults(admitted));
    const again = mutatePod(afterPlugins, ctx);
    assert.deepEqual(again.patch, [], 'the reinvocation changes nothing: no second sidecar, no token for the late proxy');
    assert.deepEqual(afterPlugins.spec?.containers?.[0]?.volumeMounts, undefined, 'the late proxy has no idgate token');
    assert.deepEqual(sidecarVerdict(afterPlugins), expected, "validation judges the Pod as it judged idgate's output");

    if (BASELINE_FOR[name]?.sidecar?.kubernetesIssuer) {
      const sidecar = afterPlugins.spec?.initContainers?.find((c) => c.name === 'idgate-proxy');
      assert.deepEqual(
        sidecar?.volumeMounts?.map((m) => m.name),
        ['idgate-kube-api-access'],
        'the sidecar has its own credentials, only those',
      );
    }

    const want = VERDICTS[name];
    if (want === 'admitted') {
      const decision = judge(afterPlugins);
      assert.equal(decision.allowed, true, decision.violations.map(formatViolation).join('\n'));
      assert.deepEqual(expected, []);
    } else if (want !== undefined) {
      const denying = judge(afterPlugins)
        .violations.filter((v) => v.denies)
        .map(formatViolation);
      assert.equal(denying.length, 1, denying.join('\n'));
      assert.match(denying[0]!, want);
    }
  });
}
