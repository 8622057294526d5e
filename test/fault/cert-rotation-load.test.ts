/** The serving certificate replaced 20 times while clients keep admitting Pods: no request fails. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { issueCertificate, serviceHosts } from '../../src/certs/generate.ts';
import { writeCertFiles } from '../../src/certs/files.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { httpsCall, makeCertDir } from '../support/tls.ts';
import { eventually } from '../support/eventually.ts';
import { startLoad } from '../support/load.ts';

describe('certificate rotation under load', () => {
  it('serves every request while tls.crt/tls.key are replaced 20 times', async () => {
    const certs = await makeCertDir();
    const webhook = await startTestWebhook(certs.dir);
    const port = webhook.server.address.port;
    const review = readFileSync('examples/reviews/pod-create.json', 'utf8');
    const load = startLoad({
      port,
      ca: certs.ca.cert,
      path: '/mutate/pods',
      body: review,
      workers: 8,
      keepAlive: (i) => i % 2 === 0, // half reuse connections, half handshake every time
      uid: JSON.parse(review).request.uid,
    });
    const served = new Set<string>();
    try {
      for (let i = 0; i < 20; i++) {
        // A renewal by the same CA, as cert-manager or --manage-certs would do it.
        const leaf = issueCertificate(certs.ca, {
          commonName: `rotation-${i}`,
          hosts: serviceHosts('idgate-webhook', 'idgate-system'),
          days: 1,
          usage: 'server',
        });
        await writeCertFiles(certs.dir, { ca: certs.ca.cert, cert: leaf.cert, key: leaf.key });
        const fingerprint = new X509Certificate(leaf.cert).fingerprint256;
        await eventually(async () => (await httpsCall(port, { ca: certs.ca.cert })).fingerprint === fingerprint, 5000, `certificate ${i} to be served`);
        served.add(fingerprint);
      }
    } finally {
      const counts = await load.stop();
      await webhook.stop(1000);
      console.log(`certificate rotation: 20 replacements, ${counts.ok} requests answered, ${counts.failed} failed`);
      assert.equal(counts.failed, 0, counts.errors.slice(0, 5).join('; '));
      assert.equal(counts.refused, 0);
      assert.ok(counts.ok > 100, `load ran (${counts.ok} requests)`);
    }
    assert.equal(served.size, 20);
  });
});
