/**
 * Forwarding: identity headers the upstream can trust, bodies streamed both ways, hop-by-hop
 * headers, 502/504, skip paths and WebSocket upgrades — with real tokens from a real provider.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { headerValues, listen, startEchoUpstream, startProxy, type Echo, type Running, type RunningProxy } from './helpers.ts';

const AUDIENCE = 'urn:idgate:test-api';
const MiB = 1024 * 1024;

/** Sends raw bytes and returns the whole raw answer (the server closes: Connection: close). */
async function rawRequest(port: number, request: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  // write, not end: node's server drops in-flight requests when the client half-closes.
  socket.write(request);
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The payload of a chunked body (RFC 9112 section 7.1), for raw responses. */
function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** Resolves when `check` holds, failing with `what` after `ms`: a bound on a wait, not a timing assertion. */
function waitFor(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (check()) resolve();
      else if (Date.now() - started > ms) reject(new Error(`gave up waiting: ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe('proxy forwarding', () => {
  let idp: TestProvider;
  let upstream: Running & { seen: Echo[] };
  let proxy: RunningProxy;
  let token: string;

  before(async () => {
    [idp, upstream] = await Promise.all([startTestProvider(), startEchoUpstream()]);
    proxy = await startProxy({ upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE], allowedGroups: ['payments'], skipPaths: ['/ready'] });
    token = await idp.token('payments-api');
  });
  after(async () => {
    await Promise.all([proxy.close(), upstream.close(), idp.close()]);
  });

  it('never lets a caller-forged identity header through, whatever its case or count', async () => {
    const raw = await rawRequest(
      proxy.port,
      [
        'GET /whoami?x=1 HTTP/1.1',
        'Host: app.local',
        `Authorization: Bearer ${token}`,
        'X-Auth-Subject: admin',
        'x-auth-subject: root',
        'X-AUTH-GROUPS: cluster-admins',
        'x-Auth-Groups: payments',
        'Connection: close, X-Secret',
        'X-Secret: hop',
        'Proxy-Authorization: Basic Zm9vOmJhcg==',
        'Keep-Alive: timeout=5',
        '',
        '',
      ].join('\r\n'),
    );
    const [head, body] = raw.split('\r\n\r\n');
    assert.match(head!, /^HTTP\/1\.1 200 /);
    const echo = JSON.parse(/transfer-encoding: chunked/i.test(head!) ? dechunk(body!) : body!) as Echo;
    assert.equal(echo.url, '/whoami?x=1');
    assert.deepEqual(headerValues(echo.rawHeaders, 'x-auth-subject'), ['payments-api']);
    assert.deepEqual(headerValues(echo.rawHeaders, 'x-auth-groups'), ['payments,readers']);
    assert.deepEqual(headerValues(echo.rawHeaders, 'host'), ['app.local']);
    for (const hop of ['x-secret', 'proxy-authorization', 'keep-alive']) assert.deepEqual(headerValues(echo.rawHeaders, hop), [], hop);
    assert.deepEqual(headerValues(echo.rawHeaders, 'authorization'), [], 'the token stays with the proxy unless --pass-authorization');
    // Response side: the upstream's Connection-named header is dropped, both cookies kept.
    assert.doesNotMatch(head!, /x-internal/i);
    assert.equal(head!.match(/set-cookie/gi)?.length, 2);
  });

  it('passes Authorization on when configured to (--pass-authorization)', async () => {
    const p = await startProxy({ upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE], passAuthorization: true });
    try {
      const echo = (await (await fetch(`${p.url}/a`, { headers: { authorization: `Bearer ${token}` } })).json()) as Echo;
      assert.deepEqual(headerValues(echo.rawHeaders, 'authorization'), [`Bearer ${token}`]);
      assert.deepEqual(headerValues(echo.rawHeaders, 'x-auth-subject'), ['payments-api']);
    } finally {
      await p.close();
    }
  });

  it('serves skip paths without a token, still stripping forged identity headers', async () => {
    const res = await fetch(`${proxy.url}/ready`, { headers: { 'x-auth-subject': 'admin' } });
    assert.equal(res.status, 200);
    const echo = (await res.json()) as Echo;
    assert.deepEqual(headerValues(echo.rawHeaders, 'x-auth-subject'), []);
    assert.equal((await fetch(`${proxy.url}/ready/more`)).status, 401, 'exact paths only');
  });

  it('answers its own /healthz and /metrics', async () => {
    const health = await fetch(`${proxy.url}/healthz`);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    assert.match(metrics, /idgate_proxy_requests_total\{decision="skipped"\} \d/);
  });

  it('streams a 10 MiB request body: the upstream reads before the caller has finished sending', async () => {
    let received = 0;
    const hash = createHash('sha256');
    const sink = await listen(
      http.createServer((req, res) => {
        req.on('data', (c: Buffer) => {
          received += c.length;
          hash.update(c);
        });
        req.on('end', () => res.end(JSON.stringify({ received, sha256: hash.digest('hex') })));
      }),
    );
    const p = await startProxy({ upstream: sink.url, issuers: [idp.issuer], audiences: [AUDIENCE] });
    try {
      const body = randomBytes(10 * MiB);
      const req = http.request(`${p.url}/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-length': String(body.length) } });
      const answer = once(req, 'response');
      // First MiB, then hold the rest back until the upstream has seen bytes: a proxy that
      // buffered the whole body would never forward anything, and this wait would give up.
      req.write(body.subarray(0, MiB));
      await waitFor('the upstream to receive the first bytes', () => received > 0);
      assert.ok(received <= MiB, 'the upstream got bytes while 9 MiB were still unsent');
      req.end(body.subarray(MiB));
      const [res] = (await answer) as [http.IncomingMessage];
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const result = JSON.parse(Buffer.concat(chunks).toString()) as { received: number; sha256: string };
      assert.equal(result.received, body.length);
      assert.equal(result.sha256, createHash('sha256').update(body).digest('hex'));
    } finally {
      await Promise.all([p.close(), sink.close()]);
    }
  });

  it('streams a 10 MiB response body: the caller reads before the upstream has finished writing', async () => {
    let clientGot = 0;
    const half = randomBytes(5 * MiB);
    const source = await listen(
      http.createServer(async (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(half);
        // The second half is written only once the caller has seen data of the first.
        await waitFor('the caller to receive the first bytes', () => clientGot > 0);
        res.end(half);
      }),
    );
    const p = await startProxy({ upstream: source.url, issuers: [idp.issuer], audiences: [AUDIENCE] });
    try {
      const res = await fetch(`${p.url}/download`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      for await (const c of res.body!) clientGot += (c as Uint8Array).length;
      assert.equal(clientGot, 10 * MiB);
    } finally {
      await Promise.all([p.close(), source.close()]);
    }
  });

  it('answers 502 when the upstream is down', async () => {
    const gone = await listen(http.createServer());
    await gone.close(); // its port is now closed
    const p = await startProxy({ upstream: gone.url, issuers: [idp.issuer], audiences: [AUDIENCE] });
    try {
      const res = await fetch(`${p.url}/x`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 502);
      assert.deepEqual(await res.json(), { error: 'upstream_unavailable', message: 'the upstream could not be reached' });
      assert.equal(await p.metric('idgate_proxy_upstream_errors_total', { reason: 'connect' }), 1);
    } finally {
      await p.close();
    }
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const slow = await listen(
      http.createServer(() => {
        /* never answers */
      }),
    );
    const p = await startProxy({ upstream: slow.url, issuers: [idp.issuer], audiences: [AUDIENCE], upstreamTimeoutMs: 100 });
    try {
      const res = await fetch(`${p.url}/x`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 504);
      assert.equal(((await res.json()) as { error: string }).error, 'upstream_timeout');
      assert.equal(await p.metric('idgate_proxy_upstream_errors_total', { reason: 'timeout' }), 1);
    } finally {
      await Promise.all([p.close(), slow.close()]);
    }
  });

  it('survives a caller that hangs up before the upstream answers, and aborts the upstream request', async () => {
    let release: () => void = () => {};
    const upstreamAborted = new Promise<void>((resolve) => {
      release = resolve;
    });
    const late = await listen(
      http.createServer((req, res) => {
        req.socket.on('close', () => release());
        setTimeout(() => res.end('too late'), 200).unref();
      }),
    );
    const p = await startProxy({ upstream: late.url, issuers: [idp.issuer], audiences: [AUDIENCE] });
    try {
      const req = http.request(`${p.url}/slow`, { headers: { authorization: `Bearer ${token}` } });
      req.on('error', () => {});
      req.end();
      await once(late.server, 'request');
      req.destroy();
      await upstreamAborted; // the proxy closed its side: the upstream request was aborted
      await new Promise((resolve) => setTimeout(resolve, 300)); // the upstream's late answer arrives
      const res = await fetch(`${p.url}/healthz`);
      assert.equal(res.status, 200, 'the proxy is still serving');
    } finally {
      await Promise.all([p.close(), late.close()]);
    }
  });

  it('reuses upstream connections (keep-alive)', async () => {
    let connections = 0;
    const counting = await listen(http.createServer((_req, res) => res.end('ok')));
    counting.server.on('connection', () => connections++);
    const p = await startProxy({ upstream: counting.url, issuers: [idp.issuer], audiences: [AUDIENCE] });
    try {
      for (let i = 0; i < 5; i++) assert.equal(await (await fetch(`${p.url}/k`, { headers: { authorization: `Bearer ${token}` } })).text(), 'ok');
      assert.equal(connections, 1);
    } finally {
      await Promise.all([p.close(), counting.close()]);
    }
  });
});

describe('WebSocket upgrade', () => {
  let idp: TestProvider;
  let ws: Running;
  let proxy: RunningProxy;
  let upgrades: Array<{ subject: string[]; groups: string[] }>;

  before(async () => {
    upgrades = [];
    idp = await startTestProvider();
    const server = http.createServer((_req, res) => res.end());
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      upgrades.push({ subject: headerValues(req.rawHeaders, 'x-auth-subject'), groups: headerValues(req.rawHeaders, 'x-auth-groups') });
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket); // echo
    });
    ws = await listen(server);
    proxy = await startProxy({ upstream: ws.url, issuers: [idp.issuer], audiences: [AUDIENCE], allowedGroups: ['payments'] });
  });
  after(async () => {
    await Promise.all([proxy.close(), ws.close(), idp.close()]);
  });

  function upgrade(authorization?: string): Promise<{ status: number; socket?: net.Socket; body?: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${proxy.url}/socket`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'x-auth-subject': 'forged', ...(authorization ? { authorization } : {}) },
      });
      req.on('upgrade', (res, socket) => resolve({ status: res.statusCode!, socket }));
      req.on('response', async (res) => {
        let body = '';
        for await (const c of res) body += c;
        resolve({ status: res.statusCode!, body });
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('passes an upgrade with a valid token through, with the verified identity', async () => {
    const r = await upgrade(`Bearer ${await idp.token('payments-api')}`);
    assert.equal(r.status, 101);
    r.socket!.write('ping');
    const [data] = (await once(r.socket!, 'data')) as [Buffer];
    assert.equal(data.toString(), 'ping');
    r.socket!.destroy();
    assert.deepEqual(upgrades.at(-1), { subject: ['payments-api'], groups: ['payments,readers'] });
  });

  it('refuses an upgrade without a token, or with a token of the wrong group, before the upstream sees it', async () => {
    const count = upgrades.length;
    const none = await upgrade();
    assert.equal(none.status, 401);
    assert.equal((JSON.parse(none.body!) as { error: string }).error, 'unauthorized');
    const wrongGroup = await upgrade(`Bearer ${await idp.token('reports-job')}`);
    assert.equal(wrongGroup.status, 403);
    assert.equal(upgrades.length, count);
  });
});
