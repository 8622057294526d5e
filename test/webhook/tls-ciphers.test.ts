/**
 * The webhook's TLS offer, read from real handshakes: TLS 1.2 only with forward-secret AEAD
 * suites (ECDHE with AES-GCM or ChaCha20-Poly1305), and TLS 1.3. Each refused suite is first
 * negotiated with a node server on its default settings, so a refusal is the webhook's doing,
 * not the client's inability to offer the suite.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Webhook } from '../../src/webhook/start.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { httpsCall, makeCertDir, type CertDir } from '../support/tls.ts';
import { eventually } from '../support/eventually.ts';

/** Suites a TLS 1.2 client offers alone; the webhook must refuse each (why, in the comment). */
const REFUSED = [
  'AES128-SHA', // static RSA key exchange (no forward secrecy), CBC with SHA-1
  'AES256-SHA256', // static RSA, CBC
  'AES128-GCM-SHA256', // AEAD, but static RSA key exchange
  'AES256-GCM-SHA384', // the same
  'ECDHE-RSA-AES128-SHA', // forward-secret, but CBC with SHA-1
  'ECDHE-RSA-AES256-SHA384', // forward-secret, but CBC
  'DHE-RSA-AES128-GCM-SHA256', // finite-field DHE (weak groups, slow), not ECDHE
];

/** TLS 1.2 suites that must be accepted (the server's key is RSA, so the RSA forms). */
const ACCEPTED_TLS12 = ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'];
const ACCEPTED_TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

interface Handshake {
  protocol: string | null;
  cipher: string;
}

/** One TLS handshake to 127.0.0.1:port offering only `cipher` at `version`. */
function handshake(port: number, ca: string, cipher: string, version: 'TLSv1.2' | 'TLSv1.3'): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect(
      { host: '127.0.0.1', port, ca, servername: 'localhost', ciphers: cipher, minVersion: version, maxVersion: version },
      () => {
        const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
        socket.destroy();
        resolve(result);
      },
    );
    socket.once('error', reject);
  });
}

describe('webhook TLS cipher suites (real handshakes)', () => {
  let certs: CertDir;
  let webhook: Webhook;
  let port: number;
  let control: Server;
  let controlPort: number;

  before(async () => {
    certs = await makeCertDir();
    webhook = await startTestWebhook(certs.dir);
    port = webhook.server.address.port;
    // node's defaults, which include every suite in REFUSED.
    control = createServer(
      { cert: certs.leaf.cert, key: certs.leaf.key, dhparam: 'auto', minVersion: 'TLSv1.2', ciphers: `${REFUSED.join(':')}:${ACCEPTED_TLS12.join(':')}` },
      (s) => s.end(),
    );
    await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
    controlPort = (control.address() as AddressInfo).port;
  });
  after(async () => {
    control.close();
    await webhook.stop(1000);
  });

  it('refuses every non-forward-secret or non-AEAD TLS 1.2 suite', async () => {
    const refused: string[] = [];
    for (const cipher of REFUSED) {
      const offered = await handshake(controlPort, certs.ca.cert, cipher, 'TLSv1.2');
      assert.equal(offered.cipher, cipher, `the client can negotiate ${cipher} with a permissive server`);
      await assert.rejects(handshake(port, certs.ca.cert, cipher, 'TLSv1.2'), /handshake failure|no shared cipher|ECONNRESET|alert/i, `${cipher} refused`);
      refused.push(cipher);
    }
    console.log(`TLS: ${refused.length} suites refused by the webhook (each accepted by a permissive server): ${refused.join(', ')}`);
  });

  it('accepts ECDHE AEAD suites in TLS 1.2, and TLS 1.3', async () => {
    const accepted: string[] = [];
    for (const cipher of ACCEPTED_TLS12) {
      const got = await handshake(port, certs.ca.cert, cipher, 'TLSv1.2');
      assert.deepEqual(got, { protocol: 'TLSv1.2', cipher });
      accepted.push(cipher);
    }
    for (const cipher of ACCEPTED_TLS13) {
      const got = await handshake(port, certs.ca.cert, cipher, 'TLSv1.3');
      assert.deepEqual(got, { protocol: 'TLSv1.3', cipher });
      accepted.push(cipher);
    }
    console.log(`TLS: ${accepted.length} suites accepted: ${accepted.join(', ')}`);
  });

  it('keeps the same suites after the certificate is reloaded', async () => {
    const rotated = await makeCertDir(certs.dir);
    await eventually(
      async () => (await httpsCall(port, { ca: rotated.ca.cert }).catch(() => undefined))?.status === 200,
      5000,
      'the new certificate to be served',
    );
    await assert.rejects(handshake(port, rotated.ca.cert, 'ECDHE-RSA-AES128-SHA', 'TLSv1.2'));
    await assert.rejects(handshake(port, rotated.ca.cert, 'AES128-GCM-SHA256', 'TLSv1.2'));
    assert.equal((await handshake(port, rotated.ca.cert, 'ECDHE-RSA-AES128-GCM-SHA256', 'TLSv1.2')).cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
  });
});
