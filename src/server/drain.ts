/**
 * Graceful shutdown of an HTTP/1.1 server, shared by the webhook (HTTPS) and the proxy (HTTP):
 * stop accepting, finish every request already received, tell keep-alive clients to reconnect,
 * and close a connection only once its client has clearly stopped using it.
 */
import type { Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/**
 * How long a connection must have been idle before a drain closes it. It bounds how late a
 * client that reuses its connection at once may send its next request: 250 ms was too short
 * for a client on a loaded node, where test/fault/sigterm-load.test.ts's clients (16 of them,
 * beside three other test files on two cores) took 318 and 334 ms between our answer and their
 * next request, and that request was reset. Closing later costs only the terminating pod's
 * shutdown time: the connection is one nobody uses.
 */
export const IDLE_CLOSE_MS = 1_000;

/** How often a drain looks for connections to close. */
const SWEEP_MS = 25;

interface Connection {
  /** Requests received and not yet answered; an upgraded connection counts as one for good. */
  active: number;
  idleSince: number;
  /**
   * socket.bytesRead when the connection last became idle: more means the next request has
   * begun to arrive, though node emits 'request' only once its headers are whole.
   */
  readAtIdle: number;
  /** The latest request's response while it is being written. */
  response: ServerResponse | undefined;
  /**
   * The 'close' listener of every response on this connection, made once per connection rather
   * than a closure and a `once` wrapper per request (about 1 µs of the tracking's 3-4 µs per
   * request, BENCHMARKS.md "the hot path on a quieter machine"). A response emits 'close' once.
   */
  readonly responseClosed: (this: ServerResponse) => void;
}

/** Whether a drain may close a connection: no request in it, none arriving, idle long enough. */
function closable(state: Connection, bytesRead: number, now: number): boolean {
  return state.active === 0 && bytesRead === state.readAtIdle && now - state.idleSince >= IDLE_CLOSE_MS;
}

/** Every SWEEP_MS, closes the connections closable() allows; returns the timer to clear. */
function closeWhenIdle(connections: Map<Socket, Connection>): NodeJS.Timeout {
  // A keep-alive client may be sending its next request right now on a connection that
  // looks idle to us; closing it would reset that request, and the API server does not
  // retry it (Go's Transport retries a request on a reused connection the server closed
  // only when it is replayable, and an AdmissionReview POST is not: shouldRetryRequest in
  // net/http/transport.go). So a connection is closed only once it has been idle for
  // IDLE_CLOSE_MS with no byte of a next request read: a busy client gets
  // Connection: close on its next answer instead, and an idle one has long stopped
  // sending. (Go's http.Server.Shutdown closes idle connections at once and has exactly
  // this race.)
  // The decision is taken again in setImmediate, after the event loop's poll phase: when
  // this process was stalled (CPU starved, a long GC), timers run before pending reads,
  // so a request that arrived during the stall is still unread in the kernel when the
  // sweep runs, and the connection looks idle for the whole stall. Destroying it then
  // resets that request (seen in the fault test with a sweep 201 ms late).
  return setInterval(() => {
    const now = performance.now();
    const idle = [...connections].filter(([socket, state]) => closable(state, socket.bytesRead, now));
    if (idle.length === 0) return;
    setImmediate(() => {
      for (const [socket, state] of idle) if (closable(state, socket.bytesRead, now)) socket.destroy();
    });
  }, SWEEP_MS);
}

export interface Drainable {
  /**
   * Stops accepting connections, lets in-flight requests finish, and resolves when every
   * connection is closed or `graceMs` has passed (then the rest are destroyed).
   */
  drain(graceMs: number): Promise<void>;
}

/**
 * Per-connection activity, to close keep-alive connections only once they are really idle, and
 * the response being written on each, to tell its client to reconnect when we stop. (A Set of
 * in-flight responses did the same job and cost a fifth of the throughput: every request's
 * objects survived young-generation collections and went to old space, 0 vs 800 KB promoted per
 * scavenge, 26,300 vs 21,500 req/s on a bare handler (bench/, see BENCHMARKS.md).)
 */
function trackConnections(server: HttpServer, connectionEvent: 'connection' | 'secureConnection', closing: () => boolean): Map<Socket, Connection> {
  const connections = new Map<Socket, Connection>();
  server.on(connectionEvent, (socket: Socket) => {
    const state: Connection = {
      active: 0,
      idleSince: performance.now(),
      readAtIdle: socket.bytesRead,
      response: undefined,
      responseClosed() {
        state.active--;
        state.idleSince = performance.now();
        state.readAtIdle = socket.bytesRead;
        if (state.response === this) state.response = undefined;
      },
    };
    connections.set(socket, state);
    socket.once('close', () => connections.delete(socket));
  });
  // Before the app's own listener, which may answer at once (then headers could not be set).
  server.prependListener('request', (req, res) => {
    // While stopping, answers tell keep-alive clients to reconnect (to another replica).
    if (closing()) res.setHeader('Connection', 'close');
    const state = connections.get(req.socket);
    if (!state) return;
    state.active++;
    state.response = res;
    res.on('close', state.responseClosed);
  });
  // An upgraded connection (the proxy's exec and port-forward streams) is no longer HTTP: it
  // is never idle in our sense, and only the grace deadline ends it (as node's own
  // closeIdleConnections leaves it alone).
  server.prependListener('upgrade', (req) => {
    const state = connections.get(req.socket);
    if (state) state.active++;
  });
  return connections;
}

/** Stops accepting; resolves once every connection has closed, destroying what is left after graceMs. */
function stopAccepting(server: HttpServer, connections: Map<Socket, Connection>, graceMs: number, logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const deadline = setTimeout(() => {
      logger.warn({ connections: connections.size }, 'grace period over; closing remaining connections');
      server.closeAllConnections();
      for (const socket of connections.keys()) socket.destroy(); // upgraded ones too
    }, graceMs);
    deadline.unref();
    const sweep = closeWhenIdle(connections);
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
}

/**
 * Tracks the connections of `server` (an https.Server is an http.Server) so that it can be
 * drained; call before the server accepts any. `connectionEvent` is the one that hands over
 * the socket requests arrive on: 'secureConnection' for HTTPS, 'connection' for HTTP.
 */
export function drainable(server: HttpServer, connectionEvent: 'connection' | 'secureConnection', logger: Logger): Drainable {
  let closing = false;
  const connections = trackConnections(server, connectionEvent, () => closing);
  return {
    drain(graceMs) {
      closing = true;
      // Requests already being handled will answer with Connection: close, like every later one.
      // (HTTP/1.1 answers a connection's requests in order, so its last request is the one to
      // carry it; the API server's client does not pipeline anyway.)
      for (const { response } of connections.values()) {
        if (response && !response.headersSent) response.setHeader('Connection', 'close');
      }
      return stopAccepting(server, connections, graceMs, logger);
    },
  };
}
