/**
 * A small closed-loop load generator for fault tests: N workers each send requests back to back
 * over HTTPS and classify every outcome, so a test can assert on exact failure counts.
 */
import { Agent, request } from 'node:https';

export interface LoadOptions {
  port: number;
  ca: string;
  path: string;
  body: string;
  workers: number;
  /** Every worker keeps its connection alive (true) or opens a new TLS connection per request (false). */
  keepAlive: boolean | ((worker: number) => boolean);
  /** Expected response uid; a 200 with another uid counts as failed. */
  uid: string;
}

export interface LoadCounts {
  ok: number;
  /**
   * Connection refused, or reset before the TLS handshake: the listener was closed before the
   * connection was accepted, so the request was never sent (not in flight).
   */
  refused: number;
  failed: number;
  errors: string[];
}

/**
 * Starts the load; `stop()` ends it and resolves with the counts. Workers stop on their own after
 * a refusal. `answered[i]` counts worker i's good answers (to know every connection is in use).
 */
export function startLoad(o: LoadOptions): { stop(): Promise<LoadCounts>; counts: LoadCounts; answered: number[]; finished: Promise<LoadCounts> } {
  const counts: LoadCounts = { ok: 0, refused: 0, failed: 0, errors: [] };
  const answered = Array.from({ length: o.workers }, () => 0);
  let running = true;
  const one = (agent: Agent | false, worker: number) =>
    new Promise<void>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: o.port,
          servername: 'localhost',
          ca: o.ca,
          agent,
          method: 'POST',
          path: o.path,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            try {
              if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
              if (JSON.parse(text).response?.uid !== o.uid) throw new Error('wrong uid');
              counts.ok++;
              answered[worker]!++;
            } catch (err) {
              counts.failed++;
              counts.errors.push((err as Error).message);
            }
            resolve();
          });
          res.on('error', (err) => {
            counts.failed++;
            counts.errors.push(err.message);
            resolve();
          });
        },
      );
      // A fresh connection reset before its TLS handshake completed was never accepted by the
      // server: the kernel resets connections still queued on a listener that closes.
      let handshaken = false;
      req.once('socket', (socket) => socket.once('secureConnect', () => (handshaken = true)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED' || (err.code === 'ECONNRESET' && !handshaken && !req.reusedSocket)) {
          counts.refused++;
          running = false;
        } else {
          counts.failed++;
          counts.errors.push(`${err.code ?? ''} ${err.message}`);
        }
        resolve();
      });
      req.end(o.body);
    });
  const workers = Array.from({ length: o.workers }, async (_, i) => {
    const keepAlive = typeof o.keepAlive === 'function' ? o.keepAlive(i) : o.keepAlive;
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    while (running) await one(agent, i);
    if (agent) agent.destroy();
  });
  const finished = Promise.all(workers).then(() => counts);
  return {
    counts,
    answered,
    finished,
    async stop() {
      running = false;
      return finished;
    },
  };
}
