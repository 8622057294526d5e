/**
 * `npm run bench`: the webhook under load, over TLS with keep-alive, against a bare node:https
 * yardstick measured in the same run (alternating, so both see the same machine state).
 * Prints a table; BENCHMARKS.md records the figures and how they were reached.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import {
  PINNED,
  ROOT,
  NODE_OPTIONS,
  WEBHOOK_MAIN,
  benchCerts,
  cpuMicros,
  fixedRate,
  freePort,
  get,
  rssMb,
  spawnServer,
  startWebhook,
  stop,
  untilReady,
  pinLoadGenerator,
} from './common.ts';
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

async function main(): Promise<void> {
  const { dir, ca } = await benchCerts();
  const bindingsFile = join(dir, 'bindings.yaml');
  await writeFile(bindingsFile, bindingsYaml(BINDINGS));

  const port = await freePort();
  const started = performance.now();
  // The built program, as the image runs it (npm run bench builds first).
  const idgate = startWebhook({ port, certDir: dir, bindingsFile, extraArgs: EXTRA_ARGS });
  await untilReady(port, ca);
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
    const answer = JSON.parse((await get(port, SCENARIOS[scenario].path, ca, SCENARIOS[scenario].body)).text);
    const patchBytes = String(answer.response.patch ?? '').length;
    const bareProcess = spawnServer(['bench/bare-server.ts', dir, String(patchBytes)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const barePort = await new Promise<number>((resolve) => bareProcess.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));

    // Warm-up: let V8 optimise the hot paths of both servers before anything is measured.
    await load(barePort, scenario, { connections: 16, seconds: 2 });
    await load(port, scenario, { connections: 16, seconds: 2 });
    const idgateRps: number[] = [];
    const bareRps: number[] = [];
    const idgateCpu: number[] = [];
    const bareCpu: number[] = [];
    let failures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const bare = await measured(bareProcess.pid!, barePort, scenario);
      const ours = await measured(idgate.pid!, port, scenario);
      bareRps.push(bare.rps);
      idgateRps.push(ours.rps);
      bareCpu.push(bare.cpuPerRequest);
      idgateCpu.push(ours.cpuPerRequest);
      failures += ours.errors + ours.non2xx;
    }
    const rate = scenario === 'large' ? 50 : 200;
    // The yardstick at the same fixed rate: what the load generator and TLS alone add to the tail.
    const { path, body } = SCENARIOS[scenario];
    const bareFixed = await fixedRate({ port: barePort, path, body, rate, seconds: SECONDS, ca });
    await stop(bareProcess);
    const fixed = await fixedRate({ port, path, body, rate, seconds: SECONDS, ca });
    failures += fixed.errors;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(idgateRps) / median(bareRps);
    const cpuRatio = median(idgateCpu) / median(bareCpu);
    rows.push(
      `| ${scenario} | ${(sizes[scenario]! / 1024).toFixed(1)} KB | ${Math.round(median(idgateRps))} | ${Math.round(median(bareRps))} | ${ratio.toFixed(2)} | ${Math.round(median(idgateCpu))} | ${Math.round(median(bareCpu))} | ${cpuRatio.toFixed(2)} | ${rate} | ${fixed.p50} | ${fixed.p99} | ${fixed.max} | ${bareFixed.p99} | ${failures} |`,
    );
  }
  const peakRss = await rssMb(idgate.pid!, 'VmHWM');
  await stop(idgate);

  console.log('');
  console.log(
    '| request | size | idgate req/s (16 conn) | bare node:https req/s | ratio | idgate CPU µs/req | bare CPU µs/req | CPU ratio | fixed rate req/s | p50 ms | p99 ms | max ms | bare p99 ms | failed |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  console.log('');
  console.log(`RSS with ${BINDINGS} bindings loaded, before any load: ${idleRss} MB; peak over the whole run (saturation included): ${peakRss} MB`);
  console.log(`webhook: ${WEBHOOK_MAIN}, NODE_OPTIONS: ${NODE_OPTIONS}, ${PINNED ? 'servers pinned to core 0, load generator to core 1' : 'not pinned'}`);
  console.log(`start-up to ready (spawn → /readyz 200, ${BINDINGS} bindings): ${startupMs} ms`);
}

await main();
