/**
 * Fault: a refused request with a huge body (issue 14). A caller streams a 1 GiB body as fast as
 * the connection takes it, to a request the proxy refuses (no token; a valid token of the wrong
 * group). The proxy must answer, then close the connection after a small bounded read instead
 * of reading the gigabyte to the end. Counted on both sides: the bytes the proxy's socket read
 * (`bytesRead`, the bound) and the bytes the caller managed to hand to its socket before the
 * close (those include what the two kernels buffered on loopback).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startEchoUpstream, startProxy, type Echo, type Running, type RunningProxy } from '../proxy/helpers.ts';
import { startSigningIssuer, type SigningIssuer } from '../proxy/signing-issuer.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

interface Push {
  status: string;
  written: number;
  proxyRead: number;
}

describe('fault: a 1 GiB body to a refused request', () => {
  let issuer: SigningIssuer;
  let upstream: Running & { seen: Echo[] };
  let proxy: RunningProxy;
  const readBy = new Map<number, net.Socket>();

  before(async () => {
    [issuer, upstream] = await Promise.all([startSigningIssuer(), startEchoUpstream()]);
    proxy = await startProxy({ upstream: upstream.url, issuers: [issuer.issuer], audiences: ['idgate'], allowedGroups: ['payments'] });
    // The proxy's side of each connection, by the caller's port, to read its bytesRead.
    proxy.server.on('connection', (s: net.Socket) => readBy.set(s.remotePort!, s));
  });
  after(async () => {
    await Promise.all([proxy.close(), upstream.close(), issuer.close()]);
  });

  /** Sends the head, then up to 1 GiB of body (respecting backpressure) until the proxy closes. */
  async function push(head: string, chunked: boolean): Promise<Push> {
    const socket = net.connect(proxy.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const port = socket.localPort!; // gone once the socket is closed
    const proxySide = () => readBy.get(port);
    let answer = '';
    let closed = false;
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('error', () => {}); // EPIPE/ECONNRESET once the proxy closes: expected
    socket.on('close', () => (closed = true));
    socket.write(head);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
    let written = 0;
    while (!closed && written < GiB) {
      const more = socket.write(frame);
      written += frame.length;
      if (!more)
        await new Promise((resolve) => {
          socket.once('drain', resolve);
          socket.once('close', resolve);
        });
    }
    if (!closed) await new Promise((resolve) => socket.once('close', resolve));
    return { status: /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'none', written, proxyRead: proxySide()?.bytesRead ?? -1 };
  }

  it('answers and closes the connection after a small bounded read', async () => {
    const wrongGroup = await issuer.sign({ sub: 'reports', groups: ['readers'] });
    const cases: Array<{ name: string; head: string; chunked: boolean; want: string }> = [
      { name: 'no token, Content-Length: 1 GiB', head: `POST /upload HTTP/1.1\r\nHost: app\r\nContent-Length: ${GiB}\r\n\r\n`, chunked: false, want: '401' },
      { name: 'no token, chunked', head: 'POST /upload HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n', chunked: true, want: '401' },
      {
        name: 'valid token, wrong group',
        head: `PUT /upload HTTP/1.1\r\nHost: app\r\nAuthorization: Bearer ${wrongGroup}\r\nContent-Length: ${GiB}\r\n\r\n`,
        chunked: false,
        want: '403',
      },
    ];
    for (const c of cases) {
      const r = await push(c.head, c.chunked);
      console.log(
        `refused body (${c.name}): answered ${r.status}, caller handed ${(r.written / MiB).toFixed(1)} MiB to its socket of 1024 MiB, the proxy read ${(r.proxyRead / 1024).toFixed(0)} KiB before closing`,
      );
      assert.equal(r.status, c.want, `${c.name}: the answer arrives before the close`);
      assert.ok(r.proxyRead > 0 && r.proxyRead <= MiB, `${c.name}: the proxy read ${r.proxyRead} bytes, at most 1 MiB`);
      assert.ok(r.written < 256 * MiB, `${c.name}: the connection closed long before 1 GiB (${r.written} bytes)`);
    }
    assert.equal(upstream.seen.length, 0, 'the app saw none of it');
  });

  it('keeps the connection of a refused request with a small body (an expired token on a POST)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const connections = new Set<number>();
    const post = () =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(`${proxy.url}/orders`, { method: 'POST', agent, headers: { 'content-length': '1024' } }, (res) => {
          connections.add(res.socket.localPort!);
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(Buffer.alloc(1024, 0x62));
      });
    try {
      assert.deepEqual([await post(), await post(), await post()], [401, 401, 401]);
      console.log(`refused small bodies: 3 POSTs of 1 KiB refused over ${connections.size} connection(s)`);
      assert.equal(connections.size, 1, 'node drained the small body and kept the connection');
    } finally {
      agent.destroy();
    }
  });
});
