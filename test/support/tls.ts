/** TLS helpers for tests: certificate directories and HTTPS requests with a chosen trust. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest, type Agent } from 'node:https';
import { createCA, issueCertificate, serviceHosts, type KeyPairPem } from '../../src/certs/generate.ts';
import { writeCertFiles } from '../../src/certs/files.ts';

export interface CertDir {
  dir: string;
  ca: KeyPairPem;
  leaf: KeyPairPem;
}

/** A fresh CA and serving certificate for localhost/127.0.0.1, written to `dir` (a new temp dir by default). */
export async function makeCertDir(dir?: string, days = 30): Promise<CertDir> {
  const target = dir ?? (await mkdtemp(join(tmpdir(), 'idgate-certs-')));
  const ca = createCA({ days: 365 });
  const leaf = issueCertificate(ca, {
    commonName: 'idgate-webhook.idgate-system.svc',
    hosts: serviceHosts('idgate-webhook', 'idgate-system'),
    days,
    usage: 'server',
  });
  await writeCertFiles(target, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
  return { dir: target, ca, leaf };
}

export interface HttpsResult {
  status: number;
  body: string;
  /** PEM-less fingerprint of the certificate the server presented. */
  fingerprint: string;
  reusedSocket: boolean;
}

/** One HTTPS request to 127.0.0.1:port, trusting only `ca`. */
export function httpsCall(
  port: number,
  options: { ca: string; path?: string; method?: string; body?: string; agent?: Agent; cert?: string; key?: string; servername?: string },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        servername: options.servername ?? 'localhost',
        path: options.path ?? '/healthz',
        method: options.method ?? 'GET',
        ca: options.ca,
        ...(options.cert ? { cert: options.cert, key: options.key } : {}),
        agent: options.agent ?? false,
        headers: options.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) } : {},
      },
      (res) => {
        // Read the peer certificate now: a keep-alive agent detaches the socket at 'end'.
        const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            fingerprint,
            reusedSocket: req.reusedSocket,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
