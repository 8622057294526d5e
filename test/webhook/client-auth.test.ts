/**
 * `--client-ca` over real TLS: the kubelet's probes answer without a client certificate, every
 * other route needs one the client CA signed (401 without, 403 with an untrusted one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Webhook } from '../../src/webhook/start.ts';
import { clientAuthRefusal } from '../../src/webhook/client-auth.ts';
import { createCA, issueCertificate, type KeyPairPem } from '../../src/certs/generate.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { httpsCall, makeCertDir, type CertDir } from '../support/tls.ts';
import { review } from '../support/review.ts';

type Client = 'none' | 'untrusted' | 'apiserver' | 'prometheus';

describe('clientAuthRefusal (the decision)', () => {
  const cases: Array<[string, string, boolean, boolean, number | undefined]> = [
    ['authorized admission', '/validate', true, true, undefined],
    ['probe without certificate', '/healthz', false, false, undefined],
    ['readiness without certificate', '/readyz', false, false, undefined],
    ['admission without certificate', '/validate', false, false, 401],
    ['integrity without certificate', '/validate/integrity', false, false, 401],
    ['admission with an untrusted certificate', '/mutate/pods', false, true, 403],
    ['metrics without certificate', '/metrics', false, false, 401],
    ['unknown path without certificate', '/healthz/../metrics', false, false, 401],
  ];
  for (const [name, path, authorized, presented, status] of cases) {
    it(name, () => {
      const refusal = clientAuthRefusal(path, authorized, presented, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      assert.equal(refusal?.status, status);
      if (refusal) assert.match(refusal.message, /--client-ca/);
    });
  }
});

describe('webhook with --client-ca over real TLS', () => {
  let certs: CertDir;
  let webhook: Webhook;
  let port: number;
  const clients = {} as Record<Exclude<Client, 'none'>, KeyPairPem>;

  before(async () => {
    certs = await makeCertDir();
    const clientCA = createCA({ commonName: 'kube-apiserver-client-ca' });
    const clientCaFile = join(certs.dir, 'client-ca.crt');
    await writeFile(clientCaFile, clientCA.cert);
    clients.apiserver = issueCertificate(clientCA, { commonName: 'kube-apiserver', days: 1, usage: 'client' });
    clients.prometheus = issueCertificate(clientCA, { commonName: 'prometheus', days: 1, usage: 'client' });
    clients.untrusted = issueCertificate(createCA(), { commonName: 'mallory', days: 1, usage: 'client' });
    webhook = await startTestWebhook(certs.dir, { clientCaFile });
    port = webhook.server.address.port;
  });
  after(() => webhook.stop(1000));

  const call = (client: Client, method: string, path: string) => {
    const body = method === 'POST' ? JSON.stringify(review({ uid: 'u-1', name: 'web' })) : undefined;
    const cert = client === 'none' ? {} : { cert: clients[client].cert, key: clients[client].key };
    return httpsCall(port, { ca: certs.ca.cert, method, path, ...(body ? { body } : {}), ...cert });
  };

  const table: Array<[Client, string, string, number]> = [
    // The kubelet: no client certificate, probes only.
    ['none', 'GET', '/healthz', 200],
    ['none', 'GET', '/readyz', 200],
    ['none', 'GET', '/healthz?verbose', 200],
    ['none', 'POST', '/validate', 401],
    ['none', 'POST', '/mutate/pods', 401],
    ['none', 'POST', '/validate?timeout=5s', 401],
    ['none', 'GET', '/metrics', 401],
    ['none', 'GET', '/nope', 401],
    // A certificate from another CA is no better than none.
    ['untrusted', 'POST', '/validate', 403],
    ['untrusted', 'GET', '/metrics', 403],
    ['untrusted', 'GET', '/healthz', 200],
    // The API server and Prometheus present certificates the client CA signed.
    ['apiserver', 'POST', '/validate', 200],
    ['apiserver', 'POST', '/mutate/pods?timeout=5s', 200],
    ['apiserver', 'GET', '/healthz', 200],
    ['prometheus', 'GET', '/metrics', 200],
  ];
  for (const [client, method, path, status] of table) {
    it(`${client}: ${method} ${path} → ${status}`, async () => {
      const res = await call(client, method, path);
      assert.equal(res.status, status, res.body);
      if (status === 401 || status === 403) {
        const json = JSON.parse(res.body);
        assert.equal(json.error.code, status === 401 ? 'ERR_CLIENT_CERT_REQUIRED' : 'ERR_CLIENT_CERT_UNTRUSTED');
        assert.match(json.error.message, /--client-ca/);
      }
      if (status === 200 && method === 'POST') assert.equal(JSON.parse(res.body).response.uid, 'u-1');
    });
  }
});

describe('webhook without --client-ca', () => {
  it('serves every route to a client without a certificate, /metrics included', async () => {
    const certs = await makeCertDir();
    const webhook = await startTestWebhook(certs.dir);
    try {
      const port = webhook.server.address.port;
      assert.equal((await httpsCall(port, { ca: certs.ca.cert, path: '/metrics' })).status, 200);
      const body = JSON.stringify(review({ uid: 'u-2' }));
      assert.equal((await httpsCall(port, { ca: certs.ca.cert, method: 'POST', path: '/validate', body })).status, 200);
    } finally {
      await webhook.stop(1000);
    }
  });
});
