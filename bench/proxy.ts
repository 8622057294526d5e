/**
 * Proxy benchmark: requests per second and latency of an upstream called directly and through
 * `idgate proxy`, with and without the verified-token cache. Loopback only.
 *
 *   npx node bench/proxy.ts [--duration 5]
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

async function listenAndReport(server: http.Server): Promise<void> {
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
} else if (role === 'proxy') {
  const input = JSON.parse(process.argv[3]!) as ProxyConfigInput;
  await listenAndReport(createProxy({ config: buildProxyConfig(input), logger: pino({ level: 'silent' }), registry: new Registry() }));
} else {
  await main();
}

async function child(args: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(import.meta.filename, args, { stdio: 'inherit' });
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
  const durationArg = process.argv.indexOf('--duration');
  const duration = durationArg === -1 ? 5 : Number(process.argv[durationArg + 1]);
  const specifier: string = 'autocannon';
  const autocannon = ((await import(specifier)) as { default: Autocannon }).default;

  const idp = await startTestProvider({ defaultAudience: AUDIENCE, ttlSec: 3600 });
  const token = await idp.token('payments-api');
  const upstream = await child(['upstream']);
  const base = { upstream: `http://127.0.0.1:${upstream.port}`, issuers: [idp.issuer], audiences: [AUDIENCE], allowedGroups: ['payments'] };
  const cached = await child(['proxy', JSON.stringify(base)]);
  const uncached = await child(['proxy', JSON.stringify({ ...base, tokenCacheMaxEntries: 0 })]);
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
  // Warm up: discovery, JWKS, JIT.
  for (const t of targets) await autocannon(loadOptions(t, 4, 1));

  // Under load: throughput, and autocannon's average latency (whole milliseconds per sample).
  const load: string[] = [];
  let directAvg = 0;
  for (const t of targets) {
    const r = await run(autocannon, t, 32, duration);
    if (t === targets[0]) directAvg = r.latency.average;
    const added = t === targets[0] ? '—' : `+${(r.latency.average - directAvg).toFixed(2)} ms`;
    load.push(`| ${t.name} | ${Math.round(r.requests.average).toLocaleString('en-US')} | ${r.latency.average.toFixed(2)} | ${r.latency.p99} | ${added} |`);
  }
  // One connection, one request at a time: 1/rate is the round trip, free of queueing, in µs
  // (autocannon's latency histogram only resolves whole milliseconds).
  const sequential: string[] = [];
  let directUs = 0;
  for (const t of targets) {
    const r = await run(autocannon, t, 1, duration);
    const us = 1e6 / r.requests.average;
    if (t === targets[0]) directUs = us;
    const added = t === targets[0] ? '—' : `+${Math.round(us - directUs)} µs`;
    sequential.push(`| ${t.name} | ${Math.round(r.requests.average).toLocaleString('en-US')} | ${Math.round(us)} | ${added} |`);
  }

  console.log(
    `idgate proxy benchmark: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${duration} s per scenario, loopback\n`,
  );
  console.log('Under load (32 connections):\n');
  console.log('| target | req/s | latency avg (ms) | p99 (ms) | added avg latency |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of load) console.log(row);
  console.log('\nSequential (1 connection):\n');
  console.log('| target | req/s | round trip (µs) | added per request |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const row of sequential) console.log(row);

  for (const c of [upstream, cached, uncached]) c.proc.kill();
  await idp.close();
}
