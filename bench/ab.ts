/**
 * `node bench/ab.ts BEFORE_MAIN [AFTER_MAIN]`: two builds of the webhook and two bare yardsticks
 * measured in one run, each loaded in turn for short rounds, so every variant sees the same
 * machine state: the way to decide a lever of a few microseconds on a machine whose
 * whole-run figures move by ±30% (BENCHMARKS.md). AFTER_MAIN defaults to the current build.
 * The yardsticks: "bare", bench/bare-mutator.ts, a hand-written webhook doing idgate's mutation
 * (the goals' yardstick, its answer checked equivalent to idgate's before loading), and
 * "floor", bench/bare-server.ts, a fixed patch of idgate's size (no mutation work).
 * Prints each variant's median server CPU per request and throughput, and the ratios to both
 * yardsticks' medians.
 *
 *   rm -rf dist/before && cp -r dist/bundle dist/before && npm run build && node bench/ab.ts dist/before/main.mjs
 * (a bundle needs nothing beside it; a copy of dist/src must stay inside the checkout, so its
 * imports still find node_modules)
 *   BENCH_SCENARIO=typical BENCH_ROUNDS=10 BENCH_SECONDS=2 BENCH_ARGS='--log-level warn' node bench/ab.ts ...
 *   BENCH_ENV_AFTER='MALLOC_ARENA_MAX=8' node bench/ab.ts dist/bundle/main.mjs   (one variable, same build)
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { exitUnlessEquivalent } from './bare-mutator.ts';
import {
  PINNED,
  WEBHOOK_MAIN,
  benchCerts,
  freePort,
  get,
  interleavedRounds,
  median,
  readyOrExit,
  startBareServer,
  startWebhook,
  stop,
  pinLoadGenerator,
} from './common.ts';
import { SCENARIOS, bindingsYaml, type ScenarioName } from './fixtures.ts';

pinLoadGenerator();

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 6);
const BINDINGS = Number(process.env.BENCH_BINDINGS ?? 10_000);
const args = (value: string | undefined) => value?.split(' ').filter(Boolean) ?? [];
/** Flags for both webhooks (BENCH_ARGS), and for one of them only (BENCH_ARGS_BEFORE, BENCH_ARGS_AFTER): the same build twice with one flag changed measures that flag. */
const EXTRA_ARGS = args(process.env.BENCH_ARGS);
const VARIANT_ARGS = { before: args(process.env.BENCH_ARGS_BEFORE), after: args(process.env.BENCH_ARGS_AFTER) };
/** Environment variables (`NAME=value …`) for one of them only: BENCH_ENV_BEFORE, BENCH_ENV_AFTER. */
const envOf = (value: string | undefined) => Object.fromEntries(args(value).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const VARIANT_ENV = { before: envOf(process.env.BENCH_ENV_BEFORE), after: envOf(process.env.BENCH_ENV_AFTER) };
const scenario = (process.env.BENCH_SCENARIO ?? 'small') as ScenarioName;
const [beforeMain, afterMain = WEBHOOK_MAIN] = process.argv.slice(2);
if (!beforeMain || !(scenario in SCENARIOS)) {
  console.error(`usage: BENCH_SCENARIO=${Object.keys(SCENARIOS).join('|')} node bench/ab.ts BEFORE_MAIN [AFTER_MAIN]`);
  process.exit(2);
}

const { dir, ca } = await benchCerts();
const bindingsFile = join(dir, 'bindings.yaml');
await writeFile(bindingsFile, bindingsYaml(BINDINGS));
const { path, body } = SCENARIOS[scenario];

interface Variant {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly stop: () => Promise<void>;
  readonly cpu: number[];
  readonly rps: number[];
}

/** Every server started, killed if this process ends early (a build that does not start, a failed load). */
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill();
});

async function webhook(name: 'probe' | 'before' | 'after', main: string): Promise<Variant> {
  const port = await freePort();
  const child = startWebhook({
    port,
    certDir: dir,
    bindingsFile,
    extraArgs: [...EXTRA_ARGS, ...(name === 'probe' ? [] : VARIANT_ARGS[name])],
    main,
    ...(name === 'probe' ? {} : { env: VARIANT_ENV[name] }),
  });
  children.push(child);
  const state = await readyOrExit(child, port, ca, 120_000);
  if (state !== 'ready') throw new Error(`${name} (${main}): ${state}`);
  return { name, pid: child.pid!, port, stop: () => stop(child), cpu: [], rps: [] };
}

const answer = JSON.parse((await webhookAnswer()).text);
async function webhookAnswer() {
  const probe = await webhook('probe', afterMain);
  try {
    return await get(probe.port, path, ca, body);
  } finally {
    await probe.stop();
  }
}
/** A bare server (bench/bare-server.ts or bench/bare-mutator.ts and its arguments) as a variant. */
async function bare(name: 'bare' | 'floor', args: string[]): Promise<Variant> {
  const { child, port } = await startBareServer(args);
  children.push(child);
  return { name, pid: child.pid!, port, stop: () => stop(child), cpu: [], rps: [] };
}
const mutator = await bare('bare', ['bench/bare-mutator.ts', dir, bindingsFile]);
exitUnlessEquivalent(scenario, body, answer, JSON.parse((await get(mutator.port, path, ca, body)).text));
const variants: Variant[] = [
  mutator,
  await bare('floor', ['bench/bare-server.ts', dir, String(String(answer.response.patch ?? '').length)]),
  await webhook('before', beforeMain),
  await webhook('after', afterMain),
];

const load = (port: number, duration: number) =>
  autocannon({ url: `https://127.0.0.1:${port}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 16, duration });
// Warm-up: V8 keeps optimizing a webhook's hot paths (and collecting its start-up garbage) for
// several seconds of load; rounds right after a 2 s warm-up measured 2× the later ones.
for (const v of variants) await load(v.port, WARMUP_SECONDS);
await interleavedRounds(variants, ROUNDS, SECONDS, load);
for (const v of variants) await v.stop();

const [bareMedians, floorMedians] = variants.slice(0, 2).map((v) => ({ cpu: median(v.cpu), rps: median(v.rps) }));
console.log(
  `${scenario}, ${BINDINGS} bindings, ${ROUNDS} rounds of ${SECONDS} s, ${PINNED ? 'pinned' : 'not pinned'}; before ${beforeMain}, after ${afterMain}`,
);
console.log(
  '| variant | CPU µs/req, median | CPU ratio to bare | CPU ratio to floor | req/s, median | req/s ratio to bare | req/s ratio to floor | CPU µs/req per round |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const v of variants) {
  const cpu = median(v.cpu);
  const rps = median(v.rps);
  console.log(
    `| ${v.name} | ${cpu.toFixed(0)} | ${(cpu / bareMedians!.cpu).toFixed(2)} | ${(cpu / floorMedians!.cpu).toFixed(2)} | ${Math.round(rps)} | ${(rps / bareMedians!.rps).toFixed(2)} | ${(rps / floorMedians!.rps).toFixed(2)} | ${v.cpu.map(Math.round).join(' ')} |`,
  );
}
