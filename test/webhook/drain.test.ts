/**
 * The drain's keep-alive race, made deterministic: a client reuses its connection right after
 * shutdown begins while the server's event loop is stalled, as on a CPU-starved node.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { createWebhookServer } from '../../src/webhook/server.ts';
import { serve } from '../../src/server/serve.ts';
import { IDLE_CLOSE_MS } from '../../src/server/drain.ts';
import { makeCertDir } from '../support/tls.ts';
import { silentLogger } from '../support/logger.ts';

const REQUEST = 'POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';

/** Collects what the server sends; `until(n)` resolves once n answers (each ending in "ok") arrived, or at close. */
function reader(socket: TLSSocket) {
  let raw = '';
  let error: string | undefined;
  const waiting: Array<() => void> = [];
  const wake = () => {
    for (const w of waiting.splice(0)) w();
  };
  socket.on('data', (d) => {
    raw += d;
    wake();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
  socket.on('close', () => {
    error ??= 'closed';
    wake();
  });
  const count = () => raw.split('\r\n\r\nok').length - 1;
  return {
    until: (n: number) =>
      new Promise<{ raw: string; error?: string }>((resolve) => {
        const check = () => (count() >= n || error ? resolve({ raw, ...(count() >= n ? {} : { error }) }) : waiting.push(check));
        check();
      }),
  };
}

describe('webhook drain', () => {
  it('answers a request that arrived on an idle connection while the server was stalled', async () => {
    const certs = await makeCertDir();
    const server = createWebhookServer({
      app: (req, res) => {
        req.resume();
        req.on('end', () => res.end('ok'));
      },
      certificates: { current: () => ({ cert: certs.leaf.cert, key: certs.leaf.key, notAfter: new Date() }), onChange() {}, close() {} },
      logger: silentLogger,
    });
    const running = await serve(server, { host: '127.0.0.1', port: 0 }, silentLogger);
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: running.address.port, ca: certs.ca.cert, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    const received = reader(socket);
    socket.write(REQUEST);
    await received.until(1); // answered: the connection is now idle on the server's side
    const stopped = running.stop(10_000);
    // The client reuses its connection at once; its bytes reach the server's kernel buffer now.
    socket.write(REQUEST);
    // Then the server's process stalls past the idle window (CPU starved, a long GC): when it
    // runs again its timers fire before it reads the waiting request.
    const until = performance.now() + IDLE_CLOSE_MS + 300;
    while (performance.now() < until);
    const { raw, error } = await received.until(2);
    const second = raw.slice(raw.indexOf('HTTP/1.1', 1));
    console.log(`drain after a ${IDLE_CLOSE_MS + 300} ms stall: second request ${error ? `failed (${error})` : 'answered'}`);
    assert.equal(error, undefined, 'the request sent on the idle connection was answered, not reset');
    assert.match(second, /^HTTP\/1\.1 200 /);
    // Answered while stopping: the client is told not to reuse the connection.
    assert.match(second.slice(0, second.indexOf('\r\n\r\n')), /\r\nConnection: close(\r\n|$)/i);
    await stopped;
    socket.destroy();
  });
});
