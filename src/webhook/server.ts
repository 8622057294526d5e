/**
 * The webhook's HTTPS server: TLS ≥ 1.2, certificate hot reload without dropping connections,
 * optional client-certificate authentication of the API server (docs/design.md#tls-and-client-certificates).
 * It listens and drains through src/server/serve.ts (docs/design.md#shutdown).
 */
import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { CertificateSource, TlsMaterial } from '../certs/source.ts';
import { requireClientCertificate } from './client-auth.ts';

export interface WebhookServerOptions {
  readonly app: RequestListener;
  readonly certificates: CertificateSource;
  /** PEM CA bundle; when set, clients must present a certificate it signed (the API server's). */
  readonly clientCA?: string;
  readonly logger: Logger;
  /** Called with the expiry of each certificate loaded (metrics). */
  readonly onCertificate?: (material: TlsMaterial) => void;
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

/** The HTTPS server for `app`, not yet listening (src/server/serve.ts listens). */
export function createWebhookServer(options: WebhookServerOptions): Server {
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
  server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'TLS handshake failed'));
  return server;
}
