/**
 * Fault: skip paths as a way in (issue 14). The app behind the proxy accepts any path and any
 * method and upgrades any WebSocket. Without a token, only `GET`/`HEAD` of exactly a skip path
 * may reach it; a WebSocket or a write to that path, or a near miss of the path, gets the
 * normal authentication answer (401) and the app sees nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { listen, startProxy, type Running, type RunningProxy } from '../proxy/helpers.ts';

/** An app that answers every request and upgrades every WebSocket, counting both. */
async function startOpenApp(): Promise<Running & { requests: string[]; upgrades: string[] }> {
  const requests: string[] = [];
  const upgrades: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    requests.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    upgrades.push(`${req.method} ${req.url}`);
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  return { ...(await listen(server)), requests, upgrades };
}

/** A request's status: 101 for an upgrade that went through. */
function statusOf(url: string, method: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode!);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('fault: skip paths open nothing but probes', () => {
  let app: Running & { requests: string[]; upgrades: string[] };
  let proxy: RunningProxy;

  before(async () => {
    app = await startOpenApp();
    // The issuer is never reached: no request below carries a token.
    proxy = await startProxy({ upstream: app.url, issuers: ['http://127.0.0.1:9'], audiences: ['api'], skipPaths: ['/healthz', '/ready'] });
  });
  after(async () => {
    await Promise.all([proxy.close(), app.close()]);
  });

  const websocket = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
  const refused: Array<{ name: string; method: string; path: string; headers?: Record<string, string>; body?: string }> = [
    { name: 'WebSocket on a skip path', method: 'GET', path: '/healthz', headers: websocket },
    { name: 'WebSocket on the other skip path', method: 'GET', path: '/ready', headers: websocket },
    { name: 'POST with a body', method: 'POST', path: '/healthz', body: '{"drop":"tables"}' },
    { name: 'PUT', method: 'PUT', path: '/ready', body: 'x' },
    { name: 'DELETE', method: 'DELETE', path: '/healthz' },
    { name: 'PATCH', method: 'PATCH', path: '/healthz', body: 'x' },
    { name: 'OPTIONS', method: 'OPTIONS', path: '/healthz' },
    { name: 'GET with an Upgrade header but no Connection: upgrade', method: 'GET', path: '/healthz', headers: { upgrade: 'h2c' } },
    { name: 'GET with a body', method: 'GET', path: '/ready', headers: { 'content-length': '17' }, body: '{"drop":"tables"}' },
    { name: 'GET with a chunked body', method: 'GET', path: '/ready', headers: { 'transfer-encoding': 'chunked' }, body: 'x' },
    { name: 'a trailing slash', method: 'GET', path: '/healthz/' },
    { name: 'a path below it', method: 'GET', path: '/healthz/../admin' },
    { name: 'another case', method: 'GET', path: '/HEALTHZ' },
    { name: 'an encoded slash', method: 'GET', path: '/ready%2F..%2Fadmin' },
  ];

  it('refuses with 401 every request that is not GET/HEAD of exactly a skip path, and the app sees none', async () => {
    const counts = { refused: 0, reachedApp: 0 };
    for (const c of refused) {
      const seen = app.requests.length + app.upgrades.length;
      const status = await statusOf(`${proxy.url}${c.path}`, c.method, c.headers ?? {}, c.body);
      assert.equal(status, 401, c.name);
      counts.refused++;
      counts.reachedApp += app.requests.length + app.upgrades.length - seen;
    }
    assert.equal(counts.reachedApp, 0);
    console.log(`skip paths: ${refused.length} tokenless non-probe requests, ${counts.refused} answered 401, ${counts.reachedApp} reached the app`);
  });

  it('still forwards GET and HEAD probes of exactly the skip path', async () => {
    assert.equal(await statusOf(`${proxy.url}/healthz`, 'GET', {}), 200);
    assert.equal(await statusOf(`${proxy.url}/ready?verbose=1`, 'HEAD', {}), 200);
    assert.deepEqual(app.requests.slice(-2), ['GET /healthz', 'HEAD /ready?verbose=1']);
  });
});
