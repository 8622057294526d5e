/**
 * `--client-ca`: which requests need a client certificate the CA signed, decided per route
 * rather than in the TLS handshake.
 *
 * The handshake asks every client for a certificate but lets one without it (or with one the
 * CA did not sign) through, because the kubelet's httpGet probes cannot present a client
 * certificate at all: refusing them at the TLS layer fails every probe and keeps the Pods from
 * ever turning ready. So the probes stay open, and every other path needs the certificate:
 *
 * - the admission routes, for which `--client-ca` exists (the API server presents the
 *   certificate named in its AdmissionConfiguration `kubeConfigFile`);
 * - `/metrics`: it tells who can reach it which rules deny how often and when the serving
 *   certificate expires, and Prometheus can present a client certificate (scrape_config
 *   `tls_config.cert_file`), unlike the kubelet. Without `--client-ca` it stays open as before.
 * - anything else (404s), so that a route added later is closed unless listed here.
 *
 * Open paths carry nothing a caller can use: `{status: ok}` and the names of failing checks.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Paths answered without a client certificate: the kubelet's probes (manifests/base/deployment.yaml). */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** What a request without a trusted client certificate gets: 401 without one, 403 with an untrusted one. */
export interface ClientAuthRefusal {
  readonly status: 401 | 403;
  readonly code: 'ERR_CLIENT_CERT_REQUIRED' | 'ERR_CLIENT_CERT_UNTRUSTED';
  readonly message: string;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/**
 * The decision, pure: `undefined` lets the request through. `authorized` is the socket's
 * verdict against the client CA, `presented` whether the client sent a certificate at all,
 * `reason` node's authorizationError (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE).
 */
export function clientAuthRefusal(path: string, authorized: boolean, presented: boolean, reason?: string): ClientAuthRefusal | undefined {
  if (authorized || PROBE_PATHS.has(path)) return undefined;
  const fix =
    "idgate runs with --client-ca: present a client certificate that CA signed (for the API server: the client certificate in its AdmissionConfiguration kubeConfigFile for this webhook's service)";
  if (!presented) return { status: 401, code: 'ERR_CLIENT_CERT_REQUIRED', message: `${path} needs a client certificate; ${fix}` };
  return { status: 403, code: 'ERR_CLIENT_CERT_UNTRUSTED', message: `${path}: the client certificate is not trusted (${reason ?? 'unknown reason'}); ${fix}` };
}

/**
 * Wraps the app so that only {@link PROBE_PATHS} answer without a client certificate the
 * `--client-ca` CA signed. Installed only with `--client-ca`; the check itself is a property
 * read on the socket (node verified the chain during the handshake).
 */
export function requireClientCertificate(app: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      app(req, res);
      return;
    }
    const presented = socket.getPeerCertificate().raw !== undefined;
    // node sets a code string here (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE), though typed as Error.
    const reason = socket.authorizationError === undefined ? undefined : String(socket.authorizationError);
    const refusal = clientAuthRefusal(pathOf(req.url ?? '/'), false, presented, reason);
    if (!refusal) {
      app(req, res);
      return;
    }
    const text = JSON.stringify({ error: { code: refusal.code, message: refusal.message } });
    // The body (if any) is not read: close the connection rather than drain it.
    res.writeHead(refusal.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
    res.end(text);
  };
}
