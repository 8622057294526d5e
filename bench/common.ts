/**
 * What the webhook benchmarks share: certificates, the built webhook as a child process, HTTPS
 * requests, the open-loop fixed-rate generator, and the process's CPU time and memory from /proc.
 */
import { type ChildProcess, type SpawnOptions, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import * as http from 'node:http';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCertFiles } from '../src/certs/files.ts';
import { createCA, issueCertificate } from '../src/certs/generate.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The heap settings of manifests/base/deployment.yaml, so the bench measures what runs in a cluster. */
export const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=128 --max-semi-space-size=16';

/** The image's own environment (Dockerfile `ENV`, test/manifests/dockerfile.test.ts), under which idgate and its sidecar run. */
export const IMAGE_ENV: NodeJS.ProcessEnv = { NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' };

/**
 * Core pinning, as the issue's harness does it: the server under test on core 0, this process
 * (the load generator) on core 1, so the two never take turns on one core and a server's CPU per
 * request is not inflated by the generator's cache misses. Needs `taskset` (util-linux) and two
 * cores; BENCH_PIN=0 turns it off. Every thread of this process is moved (`-a`): autocannon's
 * parser and node's own helper threads run where the generator runs.
 */
export const PINNED = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves this process (the load generator) to core 1, when {@link PINNED}. Called by the benches
 * whose servers start through {@link spawnServer}; not on import, since a child forked later
 * (bench/proxy.ts, bench/relabel.ts) would inherit the core.
 */
export function pinLoadGenerator(): void {
  if (PINNED) execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
}

/**
 * Spawns a server under test with node 24 (this process's binary), on core 0 when {@link PINNED}.
 * `taskset` execs the command, so the child's pid is the server's own (its /proc CPU time).
 */
export function spawnServer(args: readonly string[], options: SpawnOptions): ChildProcess {
  return PINNED ? spawn('taskset', ['-c', '0', process.execPath, ...args], options) : spawn(process.execPath, args, options);
}

/**
 * Starts a bare server of the benches (bench/bare-server.ts, bench/bare-mutator.ts: `args` are
 * the script and its arguments) with {@link spawnServer}, and resolves once it prints its port.
 */
export async function startBareServer(args: readonly string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnServer(args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code, signal) => reject(new Error(`${args.join(' ')} exited (${signal ?? code}) before listening`)));
  });
  return { child, port };
}

/** A temporary directory holding tls.crt/tls.key for localhost and 127.0.0.1, and the CA that signed them. */
export async function benchCerts(): Promise<{ dir: string; ca: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'idgate-bench-'));
  const ca = createCA();
  const leaf = issueCertificate(ca, { commonName: 'localhost', hosts: ['localhost', '127.0.0.1'], days: 1, usage: 'server' });
  await writeCertFiles(dir, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
  return { dir, ca: ca.cert };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function get(port: number, path: string, ca: string, body?: string): Promise<{ status: number; text: string }> {
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

export async function untilReady(port: number, ca: string, timeoutMs = 30_000): Promise<void> {
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

/**
 * The program the benches run: the bundle the image ships (`npm run build`, scripts/bundle.ts),
 * or BENCH_MAIN, e.g. an earlier build copied aside (`cp -r dist/bundle dist/before`) for a
 * before/after comparison in one session.
 */
export const WEBHOOK_MAIN = process.env.BENCH_MAIN ?? 'dist/bundle/main.mjs';

/**
 * Starts the webhook on a bindings file, in the image's environment with the Deployment's NODE_OPTIONS. Its stdout is a
 * pipe this process drains, as a container runtime's is (a write to /dev/null would make the
 * log lines look cheaper than they are).
 */
export function startWebhook(opts: {
  port: number;
  certDir: string;
  bindingsFile?: string;
  extraArgs?: string[];
  main?: string;
  /** Variables set on top of this process's environment and the image's. */
  env?: NodeJS.ProcessEnv;
}): ChildProcess {
  const args = [
    opts.main ?? WEBHOOK_MAIN,
    'webhook',
    '--config',
    'examples/baseline.yaml',
    ...(opts.bindingsFile ? ['--bindings-file', opts.bindingsFile] : []),
    '--tls-dir',
    opts.certDir,
    '--listen',
    `127.0.0.1:${opts.port}`,
    ...(opts.extraArgs ?? []),
  ];
  const child = spawnServer(args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...IMAGE_ENV, NODE_OPTIONS, ...opts.env } });
  child.stdout!.resume();
  return child;
}

/** `ready` once `/readyz` answers 200, else why not: it exited (and how), or the timeout passed. */
export function readyOrExit(child: ChildProcess, port: number, ca: string, timeoutMs: number): Promise<string> {
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exited (${signal ?? code})`)));
  const ready = untilReady(port, ca, timeoutMs).then(
    () => 'ready',
    () => `not ready after ${timeoutMs} ms`,
  );
  return Promise.race([ready, exited]);
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Resident set size of a process now (VmRSS) or its peak (VmHWM), in MB. */
export async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** CPU time (user + system) a process has used so far, in µs, from /proc/PID/stat (clock ticks of 10 ms). */
export async function cpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The middle value of `xs` (the upper one of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A server measured in interleaved rounds: its CPU µs per request and req/s, one entry per round. */
export interface Measured {
  readonly pid: number;
  readonly port: number;
  readonly cpu: number[];
  readonly rps: number[];
}

/**
 * Loads each server in turn for `seconds` per round, `rounds` times, each round in a rotated
 * order (so no server always follows the same one), and records its CPU per request (from
 * /proc, every thread) and throughput: the way to compare servers a few µs apart on a machine
 * whose whole-run figures drift (bench/ab.ts, bench/ladder.ts).
 */
export async function interleavedRounds(
  servers: readonly Measured[],
  rounds: number,
  seconds: number,
  load: (port: number, seconds: number) => Promise<{ requests: { total: number; average: number } }>,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < servers.length; i++) {
      const s = servers[(i + round) % servers.length]!;
      const before = await cpuMicros(s.pid);
      const result = await load(s.port, seconds);
      s.cpu.push(((await cpuMicros(s.pid)) - before) / Math.max(1, result.requests.total));
      s.rps.push(result.requests.average);
    }
  }
}

export interface Latencies {
  /** Requests answered 200. */
  requests: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

/** Keep-alive connections of a fixed-rate run (as many as the saturation runs use). */
const CONNECTIONS = 16;

/**
 * Latency at a fixed arrival rate, open loop: one request every 1/rate seconds, whatever the
 * previous ones are doing, over up to 16 keep-alive connections, all opened beforehand (TLS when `ca` is given, else
 * plain HTTP; a GET when there is no `body`). (autocannon's overallRate
 * releases each second's budget in a burst over all connections, which queues requests behind
 * each other: the bare yardstick alone showed a 10 ms p99 at 200 req/s that way.)
 */
export async function fixedRate(opts: {
  port: number;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  rate: number;
  seconds: number;
  ca?: string;
}): Promise<Latencies> {
  const { port, path, body, rate, ca } = opts;
  const agent = ca ? new Agent({ keepAlive: true, maxSockets: CONNECTIONS }) : new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const send = ca ? request : http.request;
  const headers = { ...(body ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  /** One request; resolves with its latency in ms, or undefined if it failed. */
  const once = () =>
    new Promise<number | undefined>((resolve) => {
      const sent = performance.now();
      const req = send(
        { host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent, ...(ca ? { ca, servername: 'localhost' } : {}), headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - sent : undefined));
        },
      );
      req.on('error', () => resolve(undefined));
      req.end(body);
    });
  // Every connection is opened before the clock starts. The API server keeps its connections
  // to a webhook alive, so a review never waits for a TLS handshake; here one would (a few ms on
  // the server's one core), and the agent opens a connection whenever a timer fires late and
  // two requests overlap: 16 handshakes in 1,000 requests are the whole p99.
  await Promise.all(Array.from({ length: CONNECTIONS }, once));
  const latencies: number[] = [];
  let errors = 0;
  const total = rate * opts.seconds;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      once().then((ms) => {
        if (ms === undefined) errors++;
        else latencies.push(ms);
      }),
    );
  }
  await Promise.all(inflight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN) * 10) / 10;
  return { requests: latencies.length, p50: at(0.5), p99: at(0.99), max: at(1), errors };
}
