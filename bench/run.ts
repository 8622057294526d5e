/**
 * `npm run bench`: the webhook under load, over TLS with keep-alive, against two bare node:https
 * servers measured in the same run (alternating rounds, so all see the same machine state):
 * - "bare", the goals' yardstick (issue 16): bench/bare-mutator.ts, a hand-written webhook doing
 *   idgate's mutation per request, its answers checked equivalent to idgate's before loading;
 * - "floor": bench/bare-server.ts, answering a fixed patch of idgate's size, with no mutation work.
 * On the validating routes both only parse and allow: one server, measured once, fills both.
 * Prints a table; BENCHMARKS.md records the figures and how they were reached.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import {
  PINNED,
  NODE_OPTIONS,
  WEBHOOK_MAIN,
  benchCerts,
  cpuMicros,
  fixedRate,
  freePort,
  get,
  median,
  rssMb,
  startBareServer,
  startWebhook,
  stop,
  untilReady,
  pinLoadGenerator,
} from './common.ts';
import type { ChildProcess } from 'node:child_process';
import { exitUnlessEquivalent } from './bare-mutator.ts';
import { SCENARIOS, bindingsYaml, type ScenarioName } from './fixtures.ts';

pinLoadGenerator();

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BINDINGS = Number(process.env.BENCH_BINDINGS ?? 10_000);
/** BENCH_ARGS='--log-level warn' passes extra flags to the webhook (to measure what one feature costs). */
const EXTRA_ARGS = process.env.BENCH_ARGS?.split(' ').filter(Boolean) ?? [];
/** BENCH_SCENARIOS=typical,large runs only those (for quick before/after comparisons). */
const ONLY = process.env.BENCH_SCENARIOS?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);

interface Load {
  rps: number;
  /** Requests answered in the run. */
  requests: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

/** A saturation run with the server's CPU per request measured around it. */
async function measured(pid: number, port: number, scenario: ScenarioName): Promise<Load & { cpuPerRequest: number }> {
  const before = await cpuMicros(pid);
  const result = await load(port, scenario, { connections: 16 });
  return { ...result, cpuPerRequest: ((await cpuMicros(pid)) - before) / Math.max(1, result.requests) };
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
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Every server started, killed if this process ends early (an answer not equivalent, a failed load). */
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill();
});

/** One scenario's table row: idgate, the bare mutator and the floor in alternating rounds, then the fixed rate. */
async function scenarioRow(
  scenario: ScenarioName,
  idgate: { pid: number; port: number },
  mutator: { pid: number; port: number },
  dir: string,
  ca: string,
): Promise<string> {
  const { path, body } = SCENARIOS[scenario];
  const answer = JSON.parse((await get(idgate.port, path, ca, body)).text);
  const patchBytes = String(answer.response.patch ?? '').length;
  const floorServer = await startBareServer(['bench/bare-server.ts', dir, String(patchBytes)]);
  children.push(floorServer.child);
  const floor = { pid: floorServer.child.pid!, port: floorServer.port };
  // On the validating routes the mutator does what the floor does (no rule evaluation): the floor serves as both.
  const mutating = path.startsWith('/mutate/');
  const bare = mutating ? mutator : floor;
  exitUnlessEquivalent(scenario, body, answer, JSON.parse((await get(bare.port, path, ca, body)).text));

  // Warm-up: let V8 optimise the hot paths of every server before anything is measured.
  for (const server of mutating ? [bare, floor, idgate] : [bare, idgate]) await load(server.port, scenario, { connections: 16, seconds: 2 });
  const rps = { idgate: [] as number[], bare: [] as number[], floor: [] as number[] };
  const cpu = { idgate: [] as number[], bare: [] as number[], floor: [] as number[] };
  let failures = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const b = await measured(bare.pid, bare.port, scenario);
    const f = mutating ? await measured(floor.pid, floor.port, scenario) : b;
    const ours = await measured(idgate.pid, idgate.port, scenario);
    for (const [name, m] of [
      ['idgate', ours],
      ['bare', b],
      ['floor', f],
    ] as const) {
      rps[name].push(m.rps);
      cpu[name].push(m.cpuPerRequest);
    }
    failures += ours.errors + ours.non2xx;
  }
  const rate = scenario === 'large' ? 50 : 200;
  // The yardstick at the same fixed rate: what the load generator, TLS and the mutation alone add to the tail.
  const bareFixed = await fixedRate({ port: bare.port, path, body, rate, seconds: SECONDS, ca });
  await stop(floorServer.child);
  const fixed = await fixedRate({ port: idgate.port, path, body, rate, seconds: SECONDS, ca });
  failures += fixed.errors;
  const [r, c] = [(k: keyof typeof rps) => median(rps[k]), (k: keyof typeof cpu) => median(cpu[k])];
  return `| ${scenario} | ${(Buffer.byteLength(body) / 1024).toFixed(1)} KB | ${Math.round(r('idgate'))} | ${Math.round(r('bare'))} | ${(r('idgate') / r('bare')).toFixed(2)} | ${Math.round(r('floor'))} | ${Math.round(c('idgate'))} | ${Math.round(c('bare'))} | ${(c('idgate') / c('bare')).toFixed(2)} | ${Math.round(c('floor'))} | ${(c('idgate') / c('floor')).toFixed(2)} | ${rate} | ${fixed.p50} | ${fixed.p99} | ${fixed.max} | ${bareFixed.p99} | ${failures} |`;
}

async function main(): Promise<void> {
  const { dir, ca } = await benchCerts();
  const bindingsFile = join(dir, 'bindings.yaml');
  await writeFile(bindingsFile, bindingsYaml(BINDINGS));

  const port = await freePort();
  const started = performance.now();
  // The built program, as the image runs it (npm run bench builds first).
  const idgate = startWebhook({ port, certDir: dir, bindingsFile, extraArgs: EXTRA_ARGS });
  children.push(idgate);
  await untilReady(port, ca);
  const startupMs = Math.round(performance.now() - started);
  const idleRss = await rssMb(idgate.pid!);
  // The bare mutator loads the same bindings file, once for the whole run.
  const mutator = await startBareServer(['bench/bare-mutator.ts', dir, bindingsFile]);
  children.push(mutator.child);

  console.log(`idgate bench: ${SECONDS}s per run, ${ROUNDS} rounds alternating with bare node:https servers, ${BINDINGS} bindings loaded`);
  console.log(
    "bare = bench/bare-mutator.ts, a hand-written node:https webhook doing the same mutation per request (answers checked equivalent; the goals' yardstick); " +
      'floor = bench/bare-server.ts, a fixed patch of the same size (no mutation work). Validating routes: both only parse and allow, one server measured once.',
  );
  console.log(
    `request sizes: ${Object.entries(SCENARIOS)
      .map(([k, v]) => `${k} ${(Buffer.byteLength(v.body) / 1024).toFixed(1)} KB`)
      .join(', ')}`,
  );

  const rows: string[] = [];
  for (const scenario of (Object.keys(SCENARIOS) as ScenarioName[]).filter((s) => !ONLY || ONLY.includes(s))) {
    rows.push(await scenarioRow(scenario, { pid: idgate.pid!, port }, { pid: mutator.child.pid!, port: mutator.port }, dir, ca));
  }
  const peakRss = await rssMb(idgate.pid!, 'VmHWM');
  await stop(mutator.child);
  await stop(idgate);

  console.log('');
  console.log(
    '| request | size | idgate req/s (16 conn) | bare req/s | ratio | floor req/s | idgate CPU µs/req | bare CPU µs/req | CPU ratio | floor CPU µs/req | CPU ratio to floor | fixed rate req/s | p50 ms | p99 ms | max ms | bare p99 ms | failed |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  console.log('');
  console.log(`RSS with ${BINDINGS} bindings loaded, before any load: ${idleRss} MB; peak over the whole run (saturation included): ${peakRss} MB`);
  console.log(`webhook: ${WEBHOOK_MAIN}, NODE_OPTIONS: ${NODE_OPTIONS}, ${PINNED ? 'servers pinned to core 0, load generator to core 1' : 'not pinned'}`);
  console.log(`start-up to ready (spawn → /readyz 200, ${BINDINGS} bindings): ${startupMs} ms`);
}

await main();
