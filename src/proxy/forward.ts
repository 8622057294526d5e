/**
 * Forwarding an admitted request to the upstream: bodies streamed both ways (piped, never
 * buffered), connections to the upstream kept alive by one Agent, 502 when the upstream cannot
 * be reached, 504 when it does not answer in time, and WebSocket/HTTP upgrades spliced through.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ProxyConfig } from './config.ts';
import { downstreamHeaders, upstreamHeaders } from './headers.ts';
import type { IdentityHeaders } from './identity.ts';
import { pathOf } from './paths.ts';
import type { ProxyMetrics } from './metrics.ts';

/** The identity announced to the upstream: the encoded header values (identity.ts). */
export type ForwardIdentity = IdentityHeaders;

/** Sends admitted requests to the upstream (see {@link createForwarder}). */
export interface Forwarder {
  /** Sends `req` upstream and streams the answer into `res`; `identity` undefined on skip paths. */
  http(req: http.IncomingMessage, res: http.ServerResponse, identity: ForwardIdentity | undefined): void;
  /** Relays an upgrade request; on 101 the two sockets are piped into each other. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, identity: ForwardIdentity | undefined): void;
  /** Destroys the pooled upstream connections. */
  close(): void;
}

/** What {@link createForwarder} needs. */
export interface ForwarderDeps {
  readonly config: ProxyConfig;
  readonly logger: Logger;
  readonly metrics: ProxyMetrics;
}

/** A JSON error answer from the proxy itself (502/504 and friends). */
export function jsonError(status: number, error: string, message: string): { status: number; headers: Record<string, string>; body: string } {
  const body = JSON.stringify({ error, message });
  return { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body };
}

/** Writes a complete HTTP/1.1 response on a raw socket (upgrade requests have no ServerResponse). */
export function writeRawResponse(socket: Duplex, status: number, headers: Record<string, string>, body: string): void {
  if (!socket.writable) return;
  const raw = [...Object.entries(headers).flat(), 'content-length', String(Buffer.byteLength(body)), 'connection', 'close'];
  // Closed once the answer is out: an upgrade socket is nobody's to read, and would otherwise
  // sit half-open while the caller keeps sending into it.
  socket.end(headBlock(status, undefined, raw) + body, () => socket.destroy());
}

/** The status line and header block of an HTTP/1.1 response, from a flat raw header list. */
function headBlock(status: number, message: string | undefined, raw: readonly string[]): string {
  const lines = [`HTTP/1.1 ${status} ${message ?? http.STATUS_CODES[status] ?? ''}`];
  for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Creates the forwarder and its keep-alive Agent. */
export function createForwarder(deps: ForwarderDeps): Forwarder {
  return new UpstreamForwarder(deps);
}

/** Pipes an upgraded connection and the upstream's into each other; either closing or failing closes both. */
function splice(socket: Duplex, head: Buffer, upSocket: Duplex, upHead: Buffer): void {
  if (upHead.length > 0) socket.write(upHead);
  if (head.length > 0) upSocket.write(head);
  upSocket.on('error', () => socket.destroy());
  socket.on('error', () => upSocket.destroy());
  upSocket.on('close', () => socket.destroy());
  socket.on('close', () => upSocket.destroy());
  upSocket.pipe(socket);
  socket.pipe(upSocket);
}

/**
 * The response-header timeout of one upstream request, armed once the request is fully written,
 * as Go's http.Transport.ResponseHeaderTimeout does: a slow upload is the caller's time, not the
 * app's. When it fires, the request is destroyed with `message`.
 */
class AnswerTimeout {
  /** The upstream's answer arrived (a response or an upgrade). */
  arrived = false;
  /** The upstream did not answer in time. */
  timedOut = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(upReq: http.ClientRequest, ms: number, message: string) {
    upReq.once('finish', () => {
      if (this.arrived) return;
      this.#timer = setTimeout(() => {
        this.timedOut = true;
        upReq.destroy(new Error(message));
      }, ms);
    });
  }

  answered(): void {
    this.arrived = true;
    this.disarm();
  }

  disarm(): void {
    clearTimeout(this.#timer);
  }
}

class UpstreamForwarder implements Forwarder {
  readonly #logger: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #upstream: URL;
  readonly #timeoutMs: number;
  readonly #passAuthorization: boolean;
  readonly #basePath: string;
  readonly #target: { readonly host: string; readonly port: number };
  // Keep-alive to the app: a new TCP handshake per request would dominate loopback latency.
  readonly #agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });

  constructor({ config, logger, metrics }: ForwarderDeps) {
    const { upstream } = config;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#upstream = upstream;
    this.#timeoutMs = config.upstreamTimeoutMs;
    this.#passAuthorization = config.passAuthorization;
    this.#basePath = upstream.pathname.replace(/\/+$/, '');
    this.#target = { host: upstream.hostname.replace(/^\[|\]$/g, ''), port: upstream.port === '' ? 80 : Number(upstream.port) };
  }

  http(req: http.IncomingMessage, res: http.ServerResponse, identity: ForwardIdentity | undefined): void {
    const upReq = http.request(this.#requestOptions(req, identity, this.#agent));
    const wait = new AnswerTimeout(upReq, this.#timeoutMs, `upstream sent no response headers within ${this.#timeoutMs} ms`);

    upReq.on('response', (upRes) => {
      wait.answered();
      this.#relay(req, res, upRes);
    });

    upReq.on('error', (err) => {
      wait.disarm();
      req.unpipe(upReq);
      if (wait.arrived) return; // #relay's error listener handles a failure mid-response
      const answer = this.#upstreamFailed(req, err, wait.timedOut, 'upstream request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    });

    // The caller hanging up (mid-upload, or before the answer) must not leave the app's
    // request running: abort it, which also keeps the broken socket out of the pool.
    req.on('close', () => {
      if (!req.complete) upReq.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });
    req.pipe(upReq);
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, identity: ForwardIdentity | undefined): void {
    // No Agent: an upgraded connection belongs to the caller and never goes back to the pool.
    const upReq = http.request(this.#requestOptions(req, identity, false, req.headers.upgrade ?? 'websocket'));
    const wait = new AnswerTimeout(upReq, this.#timeoutMs, 'upstream did not answer the upgrade in time');
    socket.on('error', () => upReq.destroy());

    upReq.on('upgrade', (upRes, upSocket, upHead) => {
      wait.answered();
      socket.write(headBlock(101, upRes.statusMessage, downstreamHeaders(upRes.rawHeaders, { upgrade: true })));
      splice(socket, head, upSocket, upHead);
    });

    upReq.on('response', (upRes) => {
      // The app declined the upgrade: relay its answer, delimited by closing the connection.
      wait.answered();
      const headers = downstreamHeaders(upRes.rawHeaders);
      headers.push('connection', 'close');
      socket.write(headBlock(upRes.statusCode ?? 502, upRes.statusMessage, headers));
      upRes.pipe(socket);
    });

    upReq.on('error', (err) => {
      wait.disarm();
      if (wait.arrived) return;
      const answer = this.#upstreamFailed(req, err, wait.timedOut, 'upstream upgrade failed');
      writeRawResponse(socket, answer.status, answer.headers, answer.body);
    });
    upReq.end();
  }

  close(): void {
    this.#agent.destroy();
  }

  /** Streams the upstream's answer into `res`. */
  #relay(req: http.IncomingMessage, res: http.ServerResponse, upRes: http.IncomingMessage): void {
    if (res.destroyed) {
      // The caller left while the app was thinking; piping into a destroyed stream throws.
      upRes.destroy();
      return;
    }
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, downstreamHeaders(upRes.rawHeaders));
    // pipe() and this listener rather than stream.pipeline(), which aborts an AbortController of
    // its own when it finishes: a DOMException with a captured stack trace on every request, the
    // largest single cost of the relay (BENCHMARKS.md, "the sidecar against a bare proxy").
    // The caller leaving is handled in http(): res 'close' destroys the upstream request.
    upRes.on('error', (err) => {
      // The caller going away (which fails upRes too) is routine; the upstream dying mid-body is worth counting.
      const callerLeft = res.destroyed;
      res.destroy();
      if (callerLeft) return;
      this.#metrics.upstreamErrors.inc({ reason: 'reset' });
      this.#logger.warn({ err: err.message, path: pathOf(req.url) }, 'upstream response broke off');
    });
    upRes.pipe(res);
  }

  #requestOptions(req: http.IncomingMessage, identity: ForwardIdentity | undefined, agent: http.Agent | false, upgrade?: string): http.RequestOptions {
    const headers = upstreamHeaders(req.rawHeaders, {
      identity,
      passAuthorization: this.#passAuthorization,
      upgrade,
      remoteAddress: req.socket.remoteAddress,
    });
    return { ...this.#target, method: req.method, path: this.#basePath + (req.url ?? '/'), headers, agent };
  }

  /** Counts and logs a request the upstream failed before answering, and says what to answer. */
  #upstreamFailed(req: http.IncomingMessage, err: Error, timedOut: boolean, msg: string): ReturnType<typeof jsonError> {
    const reason = timedOut ? 'timeout' : 'connect';
    this.#metrics.upstreamErrors.inc({ reason });
    this.#logger.warn({ err: err.message, reason, path: pathOf(req.url), upstream: this.#upstream.origin }, msg);
    return timedOut
      ? jsonError(504, 'upstream_timeout', `the upstream did not answer within ${this.#timeoutMs} ms`)
      : jsonError(502, 'upstream_unavailable', 'the upstream could not be reached');
  }
}
