import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import { join } from 'node:path';
import type { Webhook } from '../../src/webhook/start.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { createCA, issueCertificate } from '../../src/certs/generate.ts';
import { httpsCall, makeCertDir, type CertDir } from '../support/tls.ts';
import { eventually } from '../support/eventually.ts';

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('webhook over real TLS on loopback', () => {
  let certs: CertDir;
  let webhook: Webhook;
  let port: number;

  before(async () => {
    certs = await makeCertDir();
    webhook = await startTestWebhook(certs.dir);
    port = webhook.server.address.port;
  });
  after(() => webhook.stop(1000));

  it('serves a client that trusts only the generated ca.crt', async () => {
    const res = await httpsCall(port, { ca: certs.ca.cert });
    assert.equal(res.status, 200);
    assert.equal(res.fingerprint, fingerprintOf(certs.leaf.cert));
  });

  it('is refused by a client that trusts another CA', async () => {
    const other = createCA();
    await assert.rejects(httpsCall(port, { ca: other.cert }), /self.signed|unable to verify|certificate/i);
  });

  it('refuses TLS 1.1', async () => {
    const { connect } = await import('node:tls');
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: certs.ca.cert, servername: 'localhost', maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () =>
          resolve(s),
        );
        s.on('error', reject);
      }),
    );
  });

  it('after the certificate files are replaced, new connections see the new certificate; open ones keep working', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await httpsCall(port, { ca: certs.ca.cert, agent });
    assert.equal(before.fingerprint, fingerprintOf(certs.leaf.cert));

    const rotated = await makeCertDir(certs.dir); // a new CA and leaf, written over the old files
    await eventually(
      async () => {
        const res = await httpsCall(port, { ca: rotated.ca.cert }).catch(() => undefined);
        return res?.fingerprint === fingerprintOf(rotated.leaf.cert);
      },
      5000,
      'the new certificate to be served',
    );

    // The keep-alive connection opened before the rotation is still served, on the same socket.
    const reused = await httpsCall(port, { ca: certs.ca.cert, agent });
    assert.equal(reused.status, 200);
    assert.equal(reused.reusedSocket, true);
    assert.equal(reused.fingerprint, fingerprintOf(certs.leaf.cert));
    agent.destroy();
    // New connections trusting only the old CA are now refused.
    await assert.rejects(httpsCall(port, { ca: certs.ca.cert }));
    // The expiry metric follows the new certificate.
    const expiry = (await webhook.metrics.certExpiry.get()).values[0]?.value;
    assert.equal(expiry, new Date(new X509Certificate(rotated.leaf.cert).validTo).getTime() / 1000);
  });

  it('keeps the current pair when a half-written rotation leaves a certificate without its key', async () => {
    const { writeFile } = await import('node:fs/promises');
    const stranger = issueCertificate(createCA(), { commonName: 'x', hosts: ['localhost'], days: 1, usage: 'server' });
    await writeFile(join(certs.dir, 'tls.crt'), stranger.cert); // key not written
    await new Promise((r) => setTimeout(r, 300));
    const { readFileSync } = await import('node:fs');
    const served = await httpsCall(port, { ca: readFileSync(join(certs.dir, 'ca.crt'), 'utf8') });
    assert.equal(served.status, 200, 'the last valid pair is still served');
    assert.notEqual(served.fingerprint, fingerprintOf(stranger.cert));
  });
});
