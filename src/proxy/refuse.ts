/**
 * Answering a refused request (docs/design.md#refusals-and-outages): the fixed status, challenge
 * and JSON body of the denial (errors.ts), and the request body left unread.
 *
 * Node's server reads and discards whatever body is left once a response has been sent, to
 * reuse the connection for the next request (IncomingMessage's dump on response finish): a
 * caller without a token could push a gigabyte through the proxy that way, which is bandwidth
 * and CPU spent on a request already refused. So a refusal with more than
 * {@link MAX_DISCARDED_BYTES} of body still coming (or a chunked body of unknown length) says
 * `Connection: close`, and the connection is closed as soon as the answer is written, after at
 * most that many more bytes have been read. A small declared body is left to node to drain, so
 * the common refusal (an expired token on a small POST) keeps its connection. Envoy does the same
 * (its local replies close a connection whose request is not fully read); nginx reads on for
 * its lingering_close, which protects the answer from a reset, for up to 30 s.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { challengeFor, denialBody, type ProxyDenial } from './errors.ts';
import { writeRawResponse } from './forward.ts';

/**
 * The most bytes of a refused request's body read after the answer is written: one socket read
 * of node's (64 KiB), so the answer still gets out ahead of the close.
 */
export const MAX_DISCARDED_BYTES = 64 * 1024;

/** The headers of a denial: content type, no caching, the challenge, Retry-After for 503. */
export function denialHeaders(d: ProxyDenial): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  const challenge = challengeFor(d);
  if (challenge !== undefined) headers['www-authenticate'] = challenge;
  // When the proxy itself will next try the identity provider (its fetch backoff).
  if (d.retryAfterSeconds !== undefined) headers['retry-after'] = String(d.retryAfterSeconds);
  return headers;
}

/** Answers `req` with the denial; a large body still being sent is not read, and the connection closes. */
export function refuse(req: http.IncomingMessage, res: http.ServerResponse, d: ProxyDenial): void {
  const headers = denialHeaders(d);
  const declared = Number(req.headers['content-length'] ?? NaN);
  const small = req.headers['transfer-encoding'] === undefined && declared <= MAX_DISCARDED_BYTES;
  const cut = !req.complete && !small;
  if (cut) headers.connection = 'close';
  res.writeHead(d.status, headers);
  res.end(denialBody(d));
  if (!cut) return;
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARDED_BYTES) req.socket.destroy();
  });
  // Once the answer is handed to the kernel, nothing more is owed to the caller.
  res.once('finish', () => req.socket.destroy());
}

/** Answers an upgrade request with the denial on its raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, d: ProxyDenial): void {
  writeRawResponse(socket, d.status, denialHeaders(d), denialBody(d));
}
