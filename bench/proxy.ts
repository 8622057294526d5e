/**
 * Proxy benchmark: requests per second and latency of an upstream called directly and through
 * `idgate proxy`, with and without the verified-token cache. Loopback only.
 *
 *   npx node bench/proxy.ts [--duration 5] [--rounds 2] [--rate 200] [--versus-only] [--cpu-prof-dir DIR]
 *
 * `--versus-only` measures only the comparison with the bare proxy; `--cpu-prof-dir` writes a CPU
 * profile of the bare and the cached-token proxy there.
 *
 * The sidecar's yardstick is a bare node:http reverse proxy (no auth, the same upstream, the
 * same keep-alive Agent settings): measured in the same run, alternating with the cached-token
 * idgate proxy, for the throughput ratio, CPU per request and the p99 each adds at a fixed rate.
 *
 * Three processes so the proxy does not share an event loop with the load generator: this one
 * (autocannon and a real oidc-provider), an upstream child and a proxy child. Each target is
 * measured twice: under load (32 connections: throughput) and with one connection (the latency
 * one request pays, without queueing).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildProxyConfig, type ProxyConfigInput } from '../src/proxy/config.ts';
import { createProxy } from '../src/proxy/server.ts';
import { startTestProvider } from '../test/support/oidc-provider.ts';
import { cpuMicros, fixedRate, median } from './common.ts';

interface AutocannonResult {
  requests: { average: number };
  latency: { average: number; p99: number };
  errors: number;
  non2xx: number;
}
interface AutocannonRequest {
  headers?: Record<string, string>;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
  requests?: Array<{ setupRequest: (req: AutocannonRequest) => AutocannonRequest }>;
}) => Promise<AutocannonResult>;

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** Bearer tokens sent in turn, one per request, instead of `headers`' one. */
  readonly tokens?: readonly string[];
}

/** autocannon options for a target: a distinct token per request when it has a pool. */
function loadOptions(t: Target, connections: number, duration: number) {
  const tokens = t.tokens;
  if (!tokens) return { url: t.url, connections, duration, headers: t.headers };
  let next = 0;
  const setupRequest = (req: AutocannonRequest): AutocannonRequest => ({
    ...req,
    headers: { ...req.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` },
  });
  return { url: t.url, connections, duration, requests: [{ setupRequest }] };
}

const AUDIENCE = 'urn:idgate:bench';
const role = process.argv[2];

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** A copy of `headers` without the hop-by-hop ones: the fixed list and those Connection names. */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = headers.connection
    ?.toLowerCase()
    .split(',')
    .map((t) => t.trim());
  const out: http.OutgoingHttpHeaders = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name) && !named?.includes(name)) out[name] = headers[name];
  return out;
}

async function listenAndReport(server: http.Server): Promise<void> {
  // A child outlives no parent (one that crashed included).
  process.once('disconnect', () => process.exit(0));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ port: (server.address() as AddressInfo).port });
}

if (role === 'upstream') {
  // A small JSON answer, like a typical API: the point is the proxy's overhead, not the app's.
  const body = JSON.stringify({ ok: true, items: [1, 2, 3] });
  await listenAndReport(
    http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
    }),
  );
} else if (role === 'bare-proxy') {
  // The yardstick: forwarding and nothing else, but forwarding as any correct reverse proxy
  // must: hop-by-hop headers removed both ways (RFC 9110 section 7.6.1), X-Forwarded-For/-Proto/
  // -Host set, as nginx's and Envoy's usual configurations do. The same Agent settings and server
  // keep-alive as src/proxy (forward.ts, server.ts). No auth, no identity headers, no timeout.
  const upstreamPort = Number(process.argv[3]);
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });
  const server = http.createServer({ keepAliveTimeout: 65_000, headersTimeout: 66_000 }, (req, res) => {
    const headers = endToEnd(req.headers);
    headers['x-forwarded-for'] = req.socket.remoteAddress;
    headers['x-forwarded-proto'] = 'http';
    if (req.headers.host !== undefined) headers['x-forwarded-host'] = req.headers.host;
    const upReq = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent }, (upRes) => {
      if (res.destroyed) {
        upRes.destroy();
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers));
      upRes.on('error', () => res.destroy());
      upRes.pipe(res);
    });
    upReq.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    // The caller leaving aborts the upstream request. pipe() and two listeners rather than
    // stream.pipeline(), which costs a DOMException (a captured stack) per finished pipeline.
    res.on('close', () => res.writableFinished || upReq.destroy());
    req.pipe(upReq);
  });
  await listenAndReport(server);
} else if (role === 'proxy') {
  const input = JSON.parse(process.argv[3]!) as ProxyConfigInput;
  await listenAndReport(createProxy({ config: buildProxyConfig(input), logger: pino({ level: 'silent' }), registry: new Registry() }));
} else {
  await main();
}

async function child(args: string[], execArgv: string[] = []): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(import.meta.filename, args, { stdio: 'inherit', execArgv: [...process.execArgv, ...execArgv] });
  const [msg] = (await once(proc, 'message')) as [{ port: number }];
  return { proc, port: msg.port };
}

async function run(autocannon: Autocannon, t: Target, connections: number, duration: number): Promise<AutocannonResult> {
  const r = await autocannon(loadOptions(t, connections, duration));
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${t.name}: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
  process.stderr.write(`${t.name}, ${connections} connection(s): ${Math.round(r.requests.average)} req/s\n`);
  return r;
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? fallback : Number(process.argv[i + 1]);
  };
  const duration = arg('--duration', 5);
  const rounds = arg('--rounds', 2);
  const rate = arg('--rate', 200);
  // Only the comparison with the bare proxy (short runs on a shared machine).
  const versusOnly = process.argv.includes('--versus-only');
  // A CPU profile of each of the two proxies, written to this folder when they exit.
  const profIndex = process.argv.indexOf('--cpu-prof-dir');
  const profArgs = profIndex === -1 ? [] : ['--cpu-prof', '--cpu-prof-dir', process.argv[profIndex + 1]!];
  const specifier: string = 'autocannon';
  const autocannon = ((await import(specifier)) as { default: Autocannon }).default;

  const idp = await startTestProvider({ defaultAudience: AUDIENCE, ttlSec: 3600 });
  const token = await idp.token('payments-api');
  const upstream = await child(['upstream']);
  const base = { upstream: `http://127.0.0.1:${upstream.port}`, issuers: [idp.issuer], audiences: [AUDIENCE], allowedGroups: ['payments'] };
  const cached = await child(['proxy', JSON.stringify(base)], profArgs);
  const uncached = await child(['proxy', JSON.stringify({ ...base, tokenCacheMaxEntries: 0 })]);
  const bare = await child(['bare-proxy', String(upstream.port)], profArgs);
  const auth = { authorization: `Bearer ${token}` };
  // Without the cache every request must pay a verification: one token per request, cycling
  // through more tokens than there are connections, so that no two requests in flight carry the
  // same token (the proxy would verify those once, for both).
  const pool = await Promise.all(Array.from({ length: 256 }, () => idp.token('payments-api')));

  const targets: Target[] = [
    { name: 'upstream directly', url: `http://127.0.0.1:${upstream.port}/api`, headers: {} },
    { name: 'proxy, token cache', url: `http://127.0.0.1:${cached.port}/api`, headers: auth },
    { name: 'proxy, no token cache (RS256 verify per request)', url: `http://127.0.0.1:${uncached.port}/api`, headers: {}, tokens: pool },
  ];
  const bareTarget: Target = { name: 'bare node:http reverse proxy', url: `http://127.0.0.1:${bare.port}/api`, headers: auth };
  // Warm up: discovery, JWKS, JIT.
  for (const t of [...targets, bareTarget]) await autocannon(loadOptions(t, 4, 1));

  // The sidecar against the bare proxy, alternating rounds: throughput and CPU per request of
  // the proxy process, then the latency each adds at a fixed rate over the upstream's own.
  const measured = async (t: Target, pid: number) => {
    const before = await cpuMicros(pid);
    const r = await run(autocannon, t, 32, duration);
    return { rps: r.requests.average, cpu: ((await cpuMicros(pid)) - before) / (r.requests.average * duration) };
  };
  const vsBare = { idgate: [] as Array<{ rps: number; cpu: number }>, bare: [] as Array<{ rps: number; cpu: number }> };
  for (let round = 0; round < rounds; round++) {
    vsBare.bare.push(await measured(bareTarget, bare.proc.pid!));
    vsBare.idgate.push(await measured(targets[1]!, cached.proc.pid!));
  }
  const fixed = async (port: number) => fixedRate({ port, path: '/api', headers: auth, rate, seconds: duration });
  const direct = await fixed(upstream.port);
  const bareFixed = await fixed(bare.port);
  const idgateFixed = await fixed(cached.port);
  const rps = { idgate: median(vsBare.idgate.map((r) => r.rps)), bare: median(vsBare.bare.map((r) => r.rps)) };
  const cpu = { idgate: median(vsBare.idgate.map((r) => r.cpu)), bare: median(vsBare.bare.map((r) => r.cpu)) };
  const againstBare = [
    `| bare node:http reverse proxy | ${Math.round(rps.bare).toLocaleString('en-US')} | — | ${Math.round(cpu.bare)} | ${bareFixed.p50} | ${bareFixed.p99} | +${(bareFixed.p99 - direct.p99).toFixed(1)} ms |`,
    `| idgate proxy, token cache | ${Math.round(rps.idgate).toLocaleString('en-US')} | ${(rps.idgate / rps.bare).toFixed(2)} | ${Math.round(cpu.idgate)} | ${idgateFixed.p50} | ${idgateFixed.p99} | +${(idgateFixed.p99 - direct.p99).toFixed(1)} ms |`,
  ];

  // Under load: throughput, and autocannon's average latency (whole milliseconds per sample).
  const load: string[] = [];
  let directAvg = 0;
  for (const t of versusOnly ? [] : targets) {
    const r = await run(autocannon, t, 32, duration);
    if (t === targets[0]) directAvg = r.latency.average;
    const added = t === targets[0] ? '—' : `+${(r.latency.average - directAvg).toFixed(2)} ms`;
    load.push(`| ${t.name} | ${Math.round(r.requests.average).toLocaleString('en-US')} | ${r.latency.average.toFixed(2)} | ${r.latency.p99} | ${added} |`);
  }
  // One connection, one request at a time: 1/rate is the round trip, free of queueing, in µs
  // (autocannon's latency histogram only resolves whole milliseconds).
  const sequential: string[] = [];
  let directUs = 0;
  for (const t of versusOnly ? [] : targets) {
    const r = await run(autocannon, t, 1, duration);
    const us = 1e6 / r.requests.average;
    if (t === targets[0]) directUs = us;
    const added = t === targets[0] ? '—' : `+${Math.round(us - directUs)} µs`;
    sequential.push(`| ${t.name} | ${Math.round(r.requests.average).toLocaleString('en-US')} | ${Math.round(us)} | ${added} |`);
  }

  console.log(
    `idgate proxy benchmark: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${duration} s per scenario, loopback\n`,
  );
  if (!versusOnly) {
    console.log('Under load (32 connections):\n');
    console.log('| target | req/s | latency avg (ms) | p99 (ms) | added avg latency |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const row of load) console.log(row);
  }
  console.log(
    `\nAgainst a bare node:http reverse proxy (32 connections, ${rounds} alternating rounds, medians; fixed rate ${rate} req/s open loop, upstream directly p50 ${direct.p50} ms, p99 ${direct.p99} ms):\n`,
  );
  console.log('| target | req/s | ratio | proxy CPU µs/req | p50 ms at fixed rate | p99 ms at fixed rate | added p99 |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of againstBare) console.log(row);
  const each = (rs: Array<{ rps: number; cpu: number }>) => rs.map((r) => `${Math.round(r.rps)} req/s ${Math.round(r.cpu)} µs`).join(', ');
  console.log(`\nRounds: bare ${each(vsBare.bare)}; idgate ${each(vsBare.idgate)}`);
  // On a shared machine the speed changes from one round to the next: each idgate round against
  // the bare round just before it is the steadier reading.
  const pairs = (f: (i: number) => number) => vsBare.idgate.map((_, i) => f(i));
  const rpsRatios = pairs((i) => vsBare.idgate[i]!.rps / vsBare.bare[i]!.rps);
  const cpuRatios = pairs((i) => vsBare.idgate[i]!.cpu / vsBare.bare[i]!.cpu);
  const fmt = (xs: number[]) => `${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(2)).join(', ')})`;
  console.log(`Paired rounds, idgate / bare: throughput ${fmt(rpsRatios)}; CPU per request ${fmt(cpuRatios)}`);
  if (!versusOnly) {
    console.log('\nSequential (1 connection):\n');
    console.log('| target | req/s | round trip (µs) | added per request |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const row of sequential) console.log(row);
  }

  // A disconnected child exits by itself (listenAndReport), which writes its CPU profile.
  for (const c of [upstream, cached, uncached, bare]) c.proc.disconnect();
  await idp.close();
}
