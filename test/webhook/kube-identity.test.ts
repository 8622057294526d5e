/**
 * The webhook with its identity from a (fake) Kubernetes API server through real client-node:
 * readiness waits for the first sync, binding changes reach the next admission within two
 * seconds, and cut watches and 410 Gone recover while admissions keep flowing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import request from 'supertest';
import jsonpatch from 'fast-json-patch';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createKubeIdentitySource } from '../../src/kube/identity-source.ts';
import type { Webhook } from '../../src/webhook/start.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { silentLogger } from '../support/logger.ts';
import { makeCertDir, type CertDir } from '../support/tls.ts';
import { eventually } from '../support/eventually.ts';
import { startLoad } from '../support/load.ts';

const ISSUER = 'https://keycloak.example.com/realms/prod';
const podReview = JSON.parse(readFileSync('examples/reviews/pod-create.json', 'utf8'));
const binding = (name: string, groups: string[]): KubeObject => ({
  apiVersion: 'idgate.dev/v1alpha1',
  kind: 'OIDCGroupBinding',
  metadata: { name, namespace: 'payments' },
  spec: { issuer: ISSUER, groups, serviceAccounts: ['api'] },
});

describe('webhook with the Kubernetes identity source', () => {
  let api: FakeApiServer;
  let certs: CertDir;
  let webhook: Webhook;
  let url: string;
  let release: () => void;
  const agent = new Agent({ keepAlive: true });

  /** The group labels the mutating webhook puts on the example Pod right now. */
  async function groupLabels(): Promise<string[]> {
    const res = await request(url).post('/mutate/pods').ca(certs.ca.cert).agent(agent).send(podReview).expect(200);
    assert.equal(res.body.response.uid, podReview.request.uid);
    if (!res.body.response.patch) return [];
    const ops = JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString());
    const pod = jsonpatch.applyPatch(structuredClone(podReview.request.object), ops, true, false).newDocument;
    return Object.keys(pod.metadata.labels ?? {})
      .filter((k) => k.startsWith('group.idgate.dev/'))
      .map((k) => k.slice('group.idgate.dev/'.length))
      .sort();
  }

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 100 });
    api.seed([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { 'idgate.dev/inject': 'enabled' } } },
      binding('writers', ['payments-writers']),
    ]);
    certs = await makeCertDir();
    const kubeconfig = await api.writeKubeconfig(certs.dir);
    release = api.holdLists('oidcgroupbindings');
    webhook = await startTestWebhook(certs.dir, {
      bindingsFile: undefined,
      kubeIdentity: () => createKubeIdentitySource({ kubeConfig: loadKubeConfig(kubeconfig), logger: silentLogger, backoffMs: { initial: 50, max: 200 } }),
    });
    url = `https://localhost:${webhook.server.address.port}`;
  });
  after(async () => {
    agent.destroy();
    await webhook.stop(1000);
    await api.close();
  });

  it('/readyz is false until the first sync, then true', async () => {
    const before = await request(url).get('/readyz').ca(certs.ca.cert).expect(503);
    assert.deepEqual(before.body.failing, ['identity-cache']);
    const unsynced = await request(url).get('/metrics').ca(certs.ca.cert).expect(200);
    assert.match(unsynced.text, /^idgate_cache_synced\{cache="bindings"\} 0$/m);
    // Meanwhile a Pod is refused with a retryable 503 (baseline identity.onUnavailable: deny).
    const res = await request(url).post('/mutate/pods').ca(certs.ca.cert).send(podReview).expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 503);
    release();
    await eventually(async () => (await request(url).get('/readyz').ca(certs.ca.cert)).status === 200, 5000, 'readiness');
    const synced = await request(url).get('/metrics').ca(certs.ca.cert).expect(200);
    assert.match(synced.text, /^idgate_cache_synced\{cache="bindings"\} 1$/m);
    assert.deepEqual(await groupLabels(), ['payments-writers']);
  });

  it('reflects a binding created, changed and deleted in the next admission within 2 seconds', async () => {
    api.create(binding('readers', ['ledger-readers']));
    await eventually(async () => (await groupLabels()).join() === 'ledger-readers,payments-writers', 2000, 'the created binding');
    const current = api.get(binding('readers', []))!;
    api.update({ ...current, spec: { issuer: ISSUER, groups: ['payments-admins'], serviceAccounts: ['api'] } });
    await eventually(async () => (await groupLabels()).join() === 'payments-admins,payments-writers', 2000, 'the changed binding');
    api.delete(binding('readers', []));
    await eventually(async () => (await groupLabels()).join() === 'payments-writers', 2000, 'the deleted binding');
  });

  it('keeps answering correctly under load while watches are cut and expire (410 Gone), and catches up', async () => {
    // Background load: 8 clients admitting the example Pod back to back the whole time.
    const load = startLoad({
      port: webhook.server.address.port,
      ca: certs.ca.cert,
      path: '/mutate/pods',
      body: JSON.stringify(podReview),
      workers: 8,
      keepAlive: true,
      uid: podReview.request.uid,
    });
    let answered = 0;
    let wrong = 0;
    for (let round = 0; round < 5; round++) {
      if (round % 2 === 0) api.cutWatches();
      else {
        api.compact();
        api.cutWatches();
      }
      const groups = round % 2 === 0 ? ['payments-writers'] : ['payments-auditors'];
      const current = api.get(binding('writers', []))!;
      api.update({ ...current, spec: { issuer: ISSUER, groups, serviceAccounts: ['api'] } });
      // Admissions during recovery answer with the old or the new identity, never anything else.
      const deadline = Date.now() + 2000;
      for (;;) {
        const labels = await groupLabels();
        answered++;
        if (labels.join() === groups.join()) break;
        if (labels.length !== 1 || !['payments-writers', 'payments-auditors'].includes(labels[0]!)) wrong++;
        assert.ok(Date.now() < deadline, `round ${round}: binding change not seen within 2 s after a cut watch`);
      }
    }
    const background = await load.stop();
    console.log(
      `watch cuts: 5 cuts (2 with 410 Gone), ${answered} checked admissions (${wrong} wrong), ${background.ok} background admissions (${background.failed} failed)`,
    );
    assert.equal(wrong, 0);
    assert.equal(background.failed, 0, background.errors.slice(0, 3).join('; '));
    assert.ok(background.ok > 0);
    assert.equal(webhook.readiness.failing().length, 0);
  });
});
