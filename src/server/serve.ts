/**
 * Listening and draining, one way for the webhook (HTTPS) and the proxy (HTTP): the caller builds
 * the server, this listens on `--listen` and stops it gracefully (docs/design.md#shutdown).
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { drainable } from './drain.ts';

/** A server listening on its address until stopped. */
export interface Served<S extends HttpServer = HttpServer> {
  readonly server: S;
  /** The bound address (the real port when 0 was asked for). */
  readonly address: AddressInfo;
  /**
   * Stops accepting connections, lets in-flight requests finish, and resolves when every
   * connection is closed or `graceMs` has passed (then the rest are destroyed).
   */
  stop(graceMs: number): Promise<void>;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Why a server cannot listen where `--listen` says, as the operator can fix it. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the address is in use',
  EADDRNOTAVAIL: 'the address is not one of this host',
  EACCES: 'permission denied (a port below 1024 needs privileges)',
};

/** `--listen` names an address the server cannot listen on (code ERR_LISTEN, src/errors.ts). */
export class ListenError extends Error {
  readonly code = 'ERR_LISTEN';
  constructor(listen: ListenAddress, cause: NodeJS.ErrnoException) {
    super(`cannot listen on ${listen.host}:${listen.port}: ${LISTEN_FAILURES[cause.code ?? ''] ?? cause.message} (${cause.code})`, { cause });
    this.name = 'ListenError';
  }
}

/** Listens on `listen` and returns the running server; a listen failure `--listen` can fix is a {@link ListenError}. */
export async function serve<S extends HttpServer>(server: S, listen: ListenAddress, logger: Logger): Promise<Served<S>> {
  // The socket requests arrive on: after the handshake for TLS (https.Server is a tls.Server).
  const { drain } = drainable(server, server instanceof TlsServer ? 'secureConnection' : 'connection', logger);
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(err.code && err.code in LISTEN_FAILURES ? new ListenError(listen, err) : err);
    server.once('error', failed);
    server.listen(listen.port, listen.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  return { server, address: server.address() as AddressInfo, stop: drain };
}
