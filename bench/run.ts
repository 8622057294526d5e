/**
 * `npm run bench`: the webhook under load, over TLS with keep-alive, against a bare node:https
 * yardstick measured in the same run (alternating, so both see the same machine state).
 * Prints a table; BENCHMARKS.md records the figures and how they were reached.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createCA, issueCertificate } from '../src/certs/generate.ts';
import { writeCertFiles } from '../src/certs/files.ts';
import { SCENARIOS, bindingsYaml, type ScenarioName } from './fixtures.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BINDINGS = Number(process.env.BENCH_BINDINGS ?? 10_000);
/** BENCH_SCENARIOS=typical,large runs only those (for quick before/after comparisons). */
const ONLY = process.env.BENCH_SCENARIOS?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number, path: string, ca: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body ? 'POST' : 'GET',
        ca,
        servername: 'localhost',
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function untilReady(port: number, ca: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await get(port, '/readyz', ca).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error('webhook not ready');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

async function load(port: number, scenario: ScenarioName, opts: { connections: number; seconds?: number }): Promise<Load> {
  const { path, body } = SCENARIOS[scenario];
  const result = await autocannon({
    url: `https://127.0.0.1:${port}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: opts.connections,
    duration: opts.seconds ?? SECONDS,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** The heap settings of manifests/base/deployment.yaml, so the bench measures what runs in a cluster. */
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=128 --max-semi-space-size=16';

/**
 * Latency at a fixed arrival rate, open loop: one request every 1/rate seconds, whatever the
 * previous ones are doing, over up to 16 keep-alive TLS connections. (autocannon's overallRate
 * releases each second's budget in a burst over all connections, which queues requests behind
 * each other: the bare yardstick alone showed a 10 ms p99 at 200 req/s that way.)
 */
async function fixedRate(port: number, scenario: ScenarioName, rate: number, ca: string): Promise<Load> {
  const { path, body } = SCENARIOS[scenario];
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const latencies: number[] = [];
  let errors = 0;
  const total = rate * SECONDS;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      new Promise<void>((resolve) => {
        const sent = performance.now();
        const req = request(
          { host: '127.0.0.1', port, path, method: 'POST', agent, ca, servername: 'localhost', headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) latencies.push(performance.now() - sent);
              else errors++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end(body);
      }),
    );
  }
  await Promise.all(inflight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
  return { rps: rate, p50: at(0.5), p99: at(0.99), max: at(1), errors, non2xx: 0 };
}

function startProcess(args: string[]): ChildProcess {
  return spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS } });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Resident set size of a process now (VmRSS) or its peak (VmHWM), in MB. */
async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'idgate-bench-'));
  const ca = createCA();
  const leaf = issueCertificate(ca, { commonName: 'localhost', hosts: ['localhost', '127.0.0.1'], days: 1, usage: 'server' });
  await writeCertFiles(dir, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
  const bindingsFile = join(dir, 'bindings.yaml');
  await writeFile(bindingsFile, bindingsYaml(BINDINGS));

  const port = await freePort();
  const started = performance.now();
  // The built program, as the image runs it (npm run bench builds first).
  const idgate = startProcess([
    'dist/src/cli/main.js',
    'webhook',
    '--config',
    'examples/baseline.yaml',
    '--bindings-file',
    bindingsFile,
    '--tls-dir',
    dir,
    '--listen',
    `127.0.0.1:${port}`,
  ]);
  await untilReady(port, ca.cert);
  const startupMs = Math.round(performance.now() - started);
  const idleRss = await rssMb(idgate.pid!);

  const sizes = Object.fromEntries(Object.entries(SCENARIOS).map(([k, v]) => [k, Buffer.byteLength(v.body)]));
  console.log(`idgate bench: ${SECONDS}s per run, ${ROUNDS} rounds alternating with a bare node:https server, ${BINDINGS} bindings loaded`);
  console.log(
    `request sizes: ${Object.entries(sizes)
      .map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} KB`)
      .join(', ')}`,
  );

  const rows: string[] = [];
  for (const scenario of (Object.keys(SCENARIOS) as ScenarioName[]).filter((s) => !ONLY || ONLY.includes(s))) {
    const answer = JSON.parse((await get(port, SCENARIOS[scenario].path, ca.cert, SCENARIOS[scenario].body)).text);
    const patchBytes = String(answer.response.patch ?? '').length;
    const bareProcess = spawn(process.execPath, ['bench/bare-server.ts', dir, String(patchBytes)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const barePort = await new Promise<number>((resolve) => bareProcess.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));

    // Warm-up: let V8 optimise the hot paths of both servers before anything is measured.
    await load(barePort, scenario, { connections: 16, seconds: 2 });
    await load(port, scenario, { connections: 16, seconds: 2 });
    const idgateRps: number[] = [];
    const bareRps: number[] = [];
    let failures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const bare = await load(barePort, scenario, { connections: 16 });
      const ours = await load(port, scenario, { connections: 16 });
      bareRps.push(bare.rps);
      idgateRps.push(ours.rps);
      failures += ours.errors + ours.non2xx;
    }
    const rate = scenario === 'large' ? 50 : 200;
    // The yardstick at the same fixed rate: what the load generator and TLS alone add to the tail.
    const bareFixed = await fixedRate(barePort, scenario, rate, ca.cert);
    await stop(bareProcess);
    const fixed = await fixedRate(port, scenario, rate, ca.cert);
    failures += fixed.errors + fixed.non2xx;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(idgateRps) / median(bareRps);
    rows.push(
      `| ${scenario} | ${(sizes[scenario]! / 1024).toFixed(1)} KB | ${Math.round(median(idgateRps))} | ${Math.round(median(bareRps))} | ${ratio.toFixed(2)} | ${rate} | ${fixed.p50} | ${fixed.p99} | ${fixed.max} | ${bareFixed.p99} | ${failures} |`,
    );
  }
  const peakRss = await rssMb(idgate.pid!, 'VmHWM');
  await stop(idgate);

  console.log('');
  console.log(
    '| request | size | idgate req/s (16 conn) | bare node:https req/s | ratio | fixed rate req/s | p50 ms | p99 ms | max ms | bare p99 ms | failed |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  console.log('');
  console.log(`RSS with ${BINDINGS} bindings loaded, before any load: ${idleRss} MB; peak over the whole run (saturation included): ${peakRss} MB`);
  console.log(`webhook NODE_OPTIONS: ${NODE_OPTIONS}`);
  console.log(`start-up to ready (spawn → /readyz 200, ${BINDINGS} bindings): ${startupMs} ms`);
}

await main();
