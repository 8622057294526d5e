/**
 * Serving the app over HTTPS: TLS ≥ 1.2, certificate hot reload without dropping connections,
 * optional client-certificate authentication of the API server, and graceful shutdown.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { CertificateSource, TlsMaterial } from '../certs/source.ts';

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

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const { logger, certificates } = options;
  const tlsOptions = (m: TlsMaterial) => ({
    cert: m.cert,
    key: m.key,
    minVersion: 'TLSv1.2' as const,
    ...(options.clientCA ? { ca: options.clientCA, requestCert: true, rejectUnauthorized: true } : {}),
  });
  const first = certificates.current();
  options.onCertificate?.(first);
  const server = createServer(tlsOptions(first), options.app);
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 5_000;
  // setSecureContext applies to new handshakes only: open connections keep their session.
  certificates.onChange((m) => {
    server.setSecureContext(tlsOptions(m));
    options.onCertificate?.(m);
  });
  let closing = false;
  // While stopping, answers tell keep-alive clients to reconnect (to another replica).
  server.on('request', (_req, res) => {
    if (closing) res.setHeader('Connection', 'close');
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
      return new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          logger.warn('grace period over; closing remaining connections');
          server.closeAllConnections();
        }, graceMs);
        deadline.unref();
        // close() stops accepting and closes idle connections once; a connection that is busy
        // now becomes idle after its response, so keep sweeping until every one is gone,
        // otherwise keep-alive clients hold the process open for the whole grace period.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearTimeout(deadline);
          clearInterval(sweep);
          resolve();
        });
      });
    },
  };
}
