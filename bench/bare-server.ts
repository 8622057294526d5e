/**
 * The benchmark's floor: a bare node:https server that does the least an admission webhook
 * must (read the body, JSON.parse it, answer an AdmissionReview with a fixed base64 patch of a
 * given size, computed once). It does none of the mutation work, so idgate's ratio to it counts
 * that work against idgate; the goals' yardstick is bench/bare-mutator.ts, which does it.
 * Also the TLS server and listener every bare server of the benches shares ({@link reviewServer}).
 * Usage: node bench/bare-server.ts CERT_DIR PATCH_BYTES  (prints the port on stdout)
 */
import { readFileSync } from 'node:fs';
import { type Server, type ServerOptions, createServer } from 'node:https';
import { join } from 'node:path';

/** An AdmissionReview as the bare servers read it: only `request` is looked at. */
export interface BareReview {
  request: Record<string, unknown>;
}

/** The `response` of an AdmissionReview, from the parsed review and the request's path. */
export type Respond = (review: BareReview, path: string) => Record<string, unknown>;

/**
 * A node:https server with the certificate of `dir` (tls.crt, tls.key) that reads each body,
 * JSON.parses it and answers the AdmissionReview whose `response` is `respond`'s. `answered`
 * is called after each answer with the parsed review.
 */
export function reviewServer(dir: string, respond: Respond, tls: ServerOptions = {}, answered?: (review: BareReview) => void): Server {
  const server = createServer({ cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')), ...tls }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as BareReview;
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: respond(review, req.url ?? '') });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      answered?.(review);
    });
  });
  server.keepAliveTimeout = 95_000;
  return server;
}

/**
 * The floor's server; bench/feature-server.ts adds TLS options and `answered`, called after
 * each answer with the parsed review.
 */
export function bareServer(dir: string, patchBytes: number, tls: ServerOptions = {}, answered?: (review: BareReview) => void): Server {
  const patch = Buffer.from('x'.repeat(Math.ceil((patchBytes * 3) / 4)))
    .toString('base64')
    .slice(0, patchBytes);
  // PATCH_BYTES 0: a validating answer, without a patch.
  const respond: Respond = ({ request }) => (patch ? { uid: request.uid, allowed: true, patchType: 'JSONPatch', patch } : { uid: request.uid, allowed: true });
  return reviewServer(dir, respond, tls, answered);
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
