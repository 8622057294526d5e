/**
 * The injected container's contract with `idgate proxy`: the probes reach what the proxy
 * serves, and the credentials land where it reads them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { IN_POD_CA_FILE, IN_POD_TOKEN_FILE } from '../../src/proxy/kubernetes-issuer.ts';
import { HEALTH_PATH } from '../../src/proxy/server.ts';
import { buildSidecar, KUBE_API_MOUNT_PATH, SIDECAR_HEALTH_PATH, SIDECAR_PORT_NAME } from '../../src/mutate/sidecar.ts';
import { testBaseline } from '../support/baseline.ts';

const params = (over: Parameters<typeof testBaseline>[0] = {}) => ({
  config: testBaseline(over).sidecar,
  upstreamPort: 8080,
  proxyPort: 4180,
  allowedGroups: [],
});

test('the probes ask the proxy its own /healthz on the named proxy port', () => {
  assert.equal(SIDECAR_HEALTH_PATH, HEALTH_PATH);
  const c = buildSidecar(params());
  assert.ok(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(SIDECAR_PORT_NAME) && SIDECAR_PORT_NAME.length <= 15, 'an IANA service name');
  assert.deepEqual(c.ports, [{ name: SIDECAR_PORT_NAME, containerPort: 4180, protocol: 'TCP' }]);
  for (const probe of ['startupProbe', 'readinessProbe'] as const) {
    const p = c[probe] as { httpGet: { path: string; port: string; scheme: string } };
    assert.deepEqual(p.httpGet, { path: '/healthz', port: SIDECAR_PORT_NAME, scheme: 'HTTP' }, probe);
  }
  assert.equal(c.livenessProbe, undefined, 'no liveness probe (sidecar.ts says why)');
});

test('with kubernetesIssuer the sidecar mounts its credentials where the proxy reads them', () => {
  assert.equal(dirname(IN_POD_TOKEN_FILE), KUBE_API_MOUNT_PATH);
  assert.equal(dirname(IN_POD_CA_FILE), KUBE_API_MOUNT_PATH);
  assert.equal(buildSidecar(params()).volumeMounts, undefined);
  const c = buildSidecar(params({ sidecar: { kubernetesIssuer: 'https://kubernetes.default.svc' } }));
  assert.deepEqual(c.volumeMounts, [{ name: 'idgate-kube-api-access', mountPath: KUBE_API_MOUNT_PATH, readOnly: true }]);
});
