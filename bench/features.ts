/**
 * What each of idgate's server-side features costs in CPU per request: one yardstick
 * (bench/feature-server.ts) per feature set, all running at once and loaded in turn, in
 * alternating rounds, so every variant sees the same machine (BENCHMARKS.md, "the hot path on a
 * quieter machine"). Usage, from the repository root:
 *
 *   BENCH_ROUNDS=8 node bench/features.ts none tls,timeouts drain log
 */
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { NODE_OPTIONS, ROOT, benchCerts, cpuMicros, spawnServer, stop, pinLoadGenerator } from './common.ts';
import { SCENARIOS, type ScenarioName } from './fixtures.ts';

pinLoadGenerator();

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const scenario = (process.env.BENCH_SCENARIO ?? 'small') as ScenarioName;
const variants = process.argv.slice(2);
if (variants.length === 0) variants.push('none', 'tls,timeouts', 'drain', 'log');

const { dir } = await benchCerts();
const { path, body } = SCENARIOS[scenario];
const servers: Array<{ features: string; child: ChildProcess; port: number; cpu: number[] }> = [];
for (const features of variants) {
  const child = spawnServer(['bench/feature-server.ts', dir, '3088', features], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS },
  });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).split('\n')[0]))));
  // The log lines go into a pipe this process drains, as a container runtime's would.
  child.stdout!.resume();
  servers.push({ features, child, port, cpu: [] });
}
const load = (port: number, duration: number) =>
  autocannon({ url: `https://127.0.0.1:${port}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 16, duration });
for (const s of servers) await load(s.port, 1); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const s of servers) {
    const before = await cpuMicros(s.child.pid!);
    const result = await load(s.port, SECONDS);
    s.cpu.push(((await cpuMicros(s.child.pid!)) - before) / Math.max(1, result.requests.total));
  }
}
console.log(`${scenario}, ${ROUNDS} rounds of ${SECONDS} s, CPU µs per request`);
console.log('| features | median | rounds |');
console.log('| --- | ---: | --- |');
for (const s of servers) {
  const sorted = [...s.cpu].sort((a, b) => a - b);
  console.log(`| ${s.features} | ${Math.round(sorted[Math.floor(sorted.length / 2)]!)} | ${s.cpu.map(Math.round).join(' ')} |`);
  await stop(s.child);
}
