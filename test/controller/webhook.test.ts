/**
 * The controllers inside `idgate webhook`: started with the server on the identity source's own
 * index, visible in /metrics, the own username learned (and retried) for validation, the Lease
 * released on shutdown. And the two flags' parsers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.ts';
import { silentLogger } from '../support/logger.ts';
import { eventually } from '../support/eventually.ts';
import { makeCertDir, type CertDir } from '../support/tls.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { ObservedBindingIndex } from '../../src/controller/index-events.ts';
import { createControllerManager } from '../../src/controller/manager.ts';
import { createControllerApis } from '../../src/kube/controller-apis.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createKubeIdentitySource } from '../../src/kube/identity-source.ts';
import { whoami } from '../../src/kube/whoami.ts';
import type { Webhook } from '../../src/webhook/start.ts';
import { defaultNamespace, parseControllers } from '../../src/cli/webhook.ts';
import { FAST_TIMINGS, binding, groupsOf, labelledPod, namespace } from './harness.ts';

describe('idgate webhook with its controllers', () => {
  let api: FakeApiServer;
  let certs: CertDir;
  let webhook: Webhook;
  let url: string;
  let configFile: string;

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    api.seed([namespace('payments'), binding('payments', 'writers', ['payments-writers'], ['api'])]);
    for (let i = 0; i < 5; i++) api.create(labelledPod('payments', `api-${i}`, 'api', ['payments-writers'], ['payments/writers']));
    // The API server is not answering reviews at first: the webhook keeps asking.
    api.injectFault({ method: 'POST', resource: 'selfsubjectreviews', status: 503, count: 1 });
    certs = await makeCertDir();
    const kubeConfig = loadKubeConfig(await api.writeKubeconfig(certs.dir));
    const index = new ObservedBindingIndex();
    configFile = join(certs.dir, 'baseline.yaml');
    await writeFile(configFile, await readFile('examples/baseline.yaml', 'utf8'));
    webhook = await startTestWebhook(certs.dir, {
      configFile,
      bindingsFile: undefined,
      kubeIdentity: () => createKubeIdentitySource({ kubeConfig, logger: silentLogger, index, backoffMs: { initial: 50, max: 200 } }),
      whoami: () => whoami(kubeConfig),
      whoamiRetryMs: 20,
      controllers: (deps) =>
        createControllerManager({
          ...deps,
          enabled: ['default-deny', 'relabel'],
          index,
          identity: 'replica-a',
          timings: FAST_TIMINGS,
          apis: createControllerApis({ kubeConfig, namespace: 'idgate-system', logger: silentLogger }),
        }),
    });
    url = `https://localhost:${webhook.server.address.port}`;
  });
  after(async () => {
    await webhook.stop(1000);
    await api.close();
  });

  it('learns its own username, retrying until the API server answers', async () => {
    await eventually(() => webhook.selfUsername() !== undefined, 5000, 'own username');
    assert.equal(webhook.selfUsername(), 'system:serviceaccount:idgate-system:idgate');
    const reviews = api.requests.filter((r) => r.resource === 'authentication.k8s.io/v1/selfsubjectreviews');
    assert.equal(reviews.length, 2, 'one refused, one answered');
  });

  it('leads, relabels on a binding change and reports it in /metrics', async () => {
    await eventually(() => webhook.controllers?.isLeader() === true, 5000, 'leadership');
    const writers = api.get(binding('payments', 'writers', [], []))!;
    api.update({ ...writers, spec: { ...(writers.spec as object), groups: ['payments-admins'] } });
    await eventually(() => api.list('v1', 'Pod', 'payments').every((p) => groupsOf(p).join() === 'payments-admins'), 10_000, 'relabelled');
    const metrics = (await request(url).get('/metrics').ca(certs.ca.cert).expect(200)).text;
    assert.match(metrics, /^idgate_controller_leader 1$/m);
    assert.match(metrics, /^idgate_relabel_total\{outcome="patched"\} 5$/m);
    assert.match(metrics, /^idgate_relabel_seconds_count \d+$/m);
  });

  it('a baseline that stops trusting the issuer: the sweep takes the groups away', async () => {
    // Settled first: leading, the start-up sweep done, every Pod still carrying a group.
    await eventually(() => webhook.controllers?.isLeader() === true, 5000, 'leadership');
    await webhook.controllers!.relabel!.idle();
    assert.ok(api.list('v1', 'Pod', 'payments').every((p) => groupsOf(p).length === 1));
    const text = await readFile(configFile, 'utf8');
    await writeFile(configFile, text.replace('https://keycloak.example.com/realms/prod', 'https://other.example.com'));
    await webhook.baseline.reload();
    await eventually(() => api.list('v1', 'Pod', 'payments').every((p) => groupsOf(p).length === 0), 10_000, 'groups removed');
  });

  it('releases the Lease when it stops', async () => {
    await webhook.stop(1000);
    const lease = api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: 'idgate-system', name: 'idgate-controller' } });
    assert.equal((lease!.spec as { holderIdentity?: string }).holderIdentity, '');
    const metrics = webhook.metrics.registry.getSingleMetric('idgate_controller_leader');
    assert.equal((await metrics?.get())?.values[0]?.value, 0);
  });
});

describe('--controllers and --namespace', () => {
  it('parses the list, none, and refuses unknown names naming the choices', () => {
    assert.deepEqual(parseControllers('default-deny,relabel'), ['default-deny', 'relabel']);
    assert.deepEqual(parseControllers('relabel'), ['relabel']);
    assert.deepEqual(parseControllers('none'), []);
    assert.throws(() => parseControllers('relabel,gc'), /default-deny, relabel, or none; got "relabel,gc"/);
    assert.throws(() => parseControllers(''), /or none/);
  });

  it("defaults the namespace to the Pod's own, else idgate-system", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idgate-ns-'));
    await writeFile(join(dir, 'namespace'), 'platform\n');
    assert.equal(defaultNamespace(join(dir, 'namespace')), 'platform');
    assert.equal(defaultNamespace(join(dir, 'missing')), 'idgate-system');
  });
});
