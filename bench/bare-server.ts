/**
 * The benchmark's yardstick: a bare node:https server that does the least an admission webhook
 * must (read the body, JSON.parse it, answer an AdmissionReview with a base64 patch of a given
 * size). idgate's throughput is reported as a ratio of this server's.
 * Usage: node bench/bare-server.ts CERT_DIR PATCH_BYTES  (prints the port on stdout)
 */
import { readFileSync } from 'node:fs';
import { type Server, type ServerOptions, createServer } from 'node:https';
import { join } from 'node:path';

/**
 * The yardstick's server; bench/feature-server.ts adds TLS options and `answered`, called after
 * each answer with the parsed review.
 */
export function bareServer(
  dir: string,
  patchBytes: number,
  tls: ServerOptions = {},
  answered?: (review: { request: Record<string, unknown> }) => void,
): Server {
  const patch = Buffer.from('x'.repeat(Math.ceil((patchBytes * 3) / 4)))
    .toString('base64')
    .slice(0, patchBytes);
  const server = createServer({ cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')), ...tls }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      // PATCH_BYTES 0: a validating answer, without a patch.
      const response = patch ? { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch } : { uid: review.request.uid, allowed: true };
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      answered?.(review);
    });
  });
  server.keepAliveTimeout = 95_000;
  return server;
}

/** Listens on a free loopback port, prints it on stdout, and closes on SIGTERM. */
export function listenAndReport(server: Server): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (import.meta.main) {
  const [dir = 'certs', patchBytesArg = '1000'] = process.argv.slice(2);
  listenAndReport(bareServer(dir, Number(patchBytesArg)));
}
