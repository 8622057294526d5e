/**
 * Serving the app over HTTPS: TLS ≥ 1.2, certificate hot reload without dropping connections,
 * optional client-certificate authentication of the API server (docs/design.md#tls-and-client-certificates),
 * and graceful shutdown (docs/design.md#shutdown).
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CertificateSource, TlsMaterial } from '../certs/source.ts';
import { requireClientCertificate } from './client-auth.ts';

export interface ServeOptions {
  readonly app: RequestListener;
  readonly certificates: CertificateSource;
  /** PEM CA bundle; when set, clients must present a certificate it signed (the API server's). */
  readonly clientCA?: string;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** Called with the expiry of each certificate loaded (metrics). */
  readonly onCertificate?: (material: TlsMaterial) => void;
}

export interface RunningServer {
  readonly server: Server;
  /** The bound address (the real port when 0 was asked for). */
  readonly address: AddressInfo;
  /**
   * Stops accepting connections, lets in-flight requests finish, and resolves when every
   * connection is closed or `graceMs` has passed (then the rest are destroyed).
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * The kube-apiserver's webhook client reuses connections and drops idle ones after 90 s
 * (Go's http.Transport IdleConnTimeout in k8s.io/apimachinery utilnet.SetTransportDefaults).
 * Holding them a little longer than the client means the client, not us, closes an idle
 * connection, so a request is never sent into a socket we are closing.
 */
const KEEP_ALIVE_MS = 95_000;

/**
 * TLS 1.2 suites offered: forward-secret (ECDHE) AEAD (AES-GCM, ChaCha20-Poly1305) only, the
 * TLS 1.2 part of Mozilla's "intermediate" configuration without its finite-field DHE suites;
 * ECDSA and RSA forms, for cert-manager's ECDSA keys and our own RSA ones. Every TLS 1.3 suite
 * is AEAD and forward-secret, so all three stay, in node's default order (so TLS 1.3, what
 * current clients use, negotiates as it did with node's defaults). Go's crypto/tls (the API
 * server's client) prefers exactly these suites, so nothing that talks to a webhook loses
 * anything. Refused,
 * among others: static-RSA key exchange (AES128-GCM-SHA256), CBC with SHA-1 or SHA-2
 * (ECDHE-RSA-AES128-SHA, AES128-SHA256), and DHE (test/webhook/tls-ciphers.test.ts).
 */
export const CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * How long a client may take to send a request. The API server sends an AdmissionReview in one
 * go right after connecting, and waits for the answer at most the webhook's `timeoutSeconds`
 * (admissionregistration.k8s.io/v1: 1 to 30, default 10; our manifests say 5). So a request not
 * received whole within the default 10 s has been given up by its caller (and even a 30 s
 * webhook spends that time on the answer, not on a 3 MiB upload that takes milliseconds in a
 * cluster): whoever still holds it open is holding memory, not waiting for a decision.
 * Node's own defaults (300 s for the request, 120 s for the handshake) let 96 stalled
 * uploads hold their bodies for five minutes.
 */
const RECEIVE_MS = 10_000;

const RECEIVE_LIMITS = {
  /** TLS handshake, from TCP accept (tls.Server; node's default 120 s). */
  handshakeTimeout: RECEIVE_MS,
  /**
   * Request headers and the whole request with its body, from the request's first byte (or
   * the connection's start); node answers 408 and closes the connection. Only time inside a
   * request counts: an idle keep-alive connection between requests is governed by
   * keepAliveTimeout. (node requires headersTimeout <= requestTimeout.)
   */
  headersTimeout: RECEIVE_MS,
  requestTimeout: RECEIVE_MS,
  /**
   * How often node looks for requests past those deadlines (default 30 s, which would let a
   * stalled upload live up to 40 s); it walks only the requests being received, so once a
   * second costs nothing measurable.
   */
  connectionsCheckingInterval: 1_000,
};

/** How long a connection must have been idle before shutdown closes it (see shutdown()). */
const IDLE_CLOSE_MS = 250;

interface Connection {
  /** Requests received and not yet answered. */
  active: number;
  idleSince: number;
  /** The latest request's response while it is being written. */
  response: ServerResponse | undefined;
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const { logger, certificates } = options;
  // Everything a certificate reload must carry again: setSecureContext replaces the whole
  // context, so ciphers or the client CA left out here would fall back to node's defaults.
  const tlsOptions = (m: TlsMaterial) => ({
    cert: m.cert,
    key: m.key,
    minVersion: 'TLSv1.2' as const,
    ciphers: CIPHERS,
    ...(options.clientCA ? { ca: options.clientCA } : {}),
  });
  const first = certificates.current();
  options.onCertificate?.(first);
  const app = options.clientCA ? requireClientCertificate(options.app) : options.app;
  const server = createServer(
    {
      ...tlsOptions(first),
      // With --client-ca the certificate is asked for but not demanded in the handshake: the
      // kubelet's httpGet probes cannot present one, so the routes decide (client-auth.ts).
      ...(options.clientCA ? { requestCert: true, rejectUnauthorized: false } : {}),
      ...RECEIVE_LIMITS,
    },
    app,
  );
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  // setSecureContext applies to new handshakes only: open connections keep their session.
  certificates.onChange((m) => {
    server.setSecureContext(tlsOptions(m));
    options.onCertificate?.(m);
  });
  let closing = false;
  // Per-connection activity, to close keep-alive connections only once they are really idle,
  // and the response being written on each, to tell its client to reconnect when we stop.
  // (A Set of in-flight responses did the same job and cost a fifth of the throughput: every
  // request's objects survived young-generation collections and went to old space, 0 vs 800 KB
  // promoted per scavenge, 26,300 vs 21,500 req/s on a bare handler (bench/, see BENCHMARKS.md).)
  const connections = new Map<TLSSocket, Connection>();
  server.on('secureConnection', (socket: TLSSocket) => {
    connections.set(socket, { active: 0, idleSince: performance.now(), response: undefined });
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (req, res) => {
    const state = connections.get(req.socket as TLSSocket);
    // While stopping, answers tell keep-alive clients to reconnect (to another replica).
    if (closing) res.setHeader('Connection', 'close');
    if (!state) return;
    state.active++;
    state.response = res;
    res.once('close', () => {
      state.active--;
      state.idleSince = performance.now();
      if (state.response === res) state.response = undefined;
    });
  });
  server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'TLS handshake failed'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  logger.info({ host: address.address, port: address.port, clientAuth: Boolean(options.clientCA) }, 'webhook listening');

  return {
    server,
    address,
    shutdown(graceMs) {
      closing = true;
      // Requests already being handled will answer with Connection: close, like every later one.
      // (HTTP/1.1 answers a connection's requests in order, so its last request is the one to
      // carry it; the API server's client does not pipeline anyway.)
      for (const { response } of connections.values()) {
        if (response && !response.headersSent) response.setHeader('Connection', 'close');
      }
      return new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          logger.warn({ connections: connections.size }, 'grace period over; closing remaining connections');
          server.closeAllConnections();
        }, graceMs);
        deadline.unref();
        // A keep-alive client may be sending its next request right now on a connection that
        // looks idle to us; closing it would reset that request. So a connection is closed only
        // once it has been idle for IDLE_CLOSE_MS: a busy client gets Connection: close on its
        // next answer instead, and an idle one has long stopped sending. (Go's
        // http.Server.Shutdown closes idle connections at once and has exactly this race.)
        const sweep = setInterval(() => {
          const now = performance.now();
          for (const [socket, state] of connections) {
            if (state.active === 0 && now - state.idleSince >= IDLE_CLOSE_MS) socket.destroy();
          }
        }, 25);
        // server.close() stops accepting but would also close idle connections at once
        // (node's httpServerPreClose); the sweep above does that, more carefully.
        const closeIdle = server.closeIdleConnections;
        server.closeIdleConnections = () => {};
        server.close(() => {
          clearTimeout(deadline);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections = closeIdle;
      });
    },
  };
}
