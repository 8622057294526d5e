/**
 * `node bench/ladder.ts`: where the gap between the yardstick and the webhook opens, in
 * interleaved rounds of one run (as bench/ab.ts): the yardstick (bench/bare-mutator.ts), idgate's
 * admission app on the yardstick's plain server (bench/ladder-server.ts `app`) without and with
 * the decision line, the same app on idgate's own server module with its default metrics
 * (`server`), and the whole webhook, as tsc builds it and as the image ships it. Each step's
 * difference is what that layer costs in the server.
 *
 *   BENCH_SCENARIO=integrity BENCH_ROUNDS=8 node bench/ladder.ts
 *   BENCH_RUNGS=server,start node bench/ladder.ts      (some rungs only, beside the yardstick)
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import {
  IMAGE_ENV,
  NODE_OPTIONS,
  PINNED,
  benchCerts,
  freePort,
  interleavedRounds,
  median,
  readyOrExit,
  spawnServer,
  startWebhook,
  stop,
  pinLoadGenerator,
  ROOT,
} from './common.ts';
import { SCENARIOS, bindingsYaml, type ScenarioName } from './fixtures.ts';

pinLoadGenerator();

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const BINDINGS = Number(process.env.BENCH_BINDINGS ?? 10_000);
const scenario = (process.env.BENCH_SCENARIO ?? 'integrity') as ScenarioName;
const { dir, ca } = await benchCerts();
const bindingsFile = join(dir, 'bindings.yaml');
await writeFile(bindingsFile, bindingsYaml(BINDINGS));
const { path, body } = SCENARIOS[scenario];

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill();
});

async function script(name: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawnServer(args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env });
  children.push(child);
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).split('\n')[0]))));
  child.stdout!.resume();
  return { name, child, pid: child.pid!, port, cpu: [] as number[], rps: [] as number[] };
}
async function webhook(name: string, main?: string) {
  const port = await freePort();
  const child = startWebhook({ port, certDir: dir, bindingsFile, ...(main ? { main } : {}) });
  children.push(child);
  if ((await readyOrExit(child, port, ca, 120_000)) !== 'ready') throw new Error(`${name} did not get ready`);
  return { name, child, pid: child.pid!, port, cpu: [] as number[], rps: [] as number[] };
}
const withHeap = { ...process.env, ...IMAGE_ENV, NODE_OPTIONS };
/** The rungs, by key; BENCH_RUNGS=bare,server,start runs only those (the yardstick always). */
const RUNGS: Record<string, () => ReturnType<typeof script>> = {
  bare: () => script('bare', ['bench/bare-mutator.ts', dir, bindingsFile]),
  'app-quiet': () => script('app on a plain server, no decision line', ['bench/ladder-server.ts', dir, bindingsFile, 'app:warn'], withHeap),
  app: () => script('app on a plain server', ['bench/ladder-server.ts', dir, bindingsFile, 'app'], withHeap),
  server: () => script('app on idgate server, default metrics', ['bench/ladder-server.ts', dir, bindingsFile, 'server'], withHeap),
  start: () => script('the composition root (start.ts), sources', ['bench/ladder-server.ts', dir, bindingsFile, 'start'], withHeap),
  sources: () => webhook('idgate, sources', 'src/cli/main.ts'),
  tsc: () => webhook('idgate, tsc build', 'dist/src/cli/main.js'),
  bundle: () => webhook('idgate, shipped bundle'),
};
const chosen = new Set(['bare', ...(process.env.BENCH_RUNGS?.split(',') ?? Object.keys(RUNGS))]);
const variants = [];
for (const [key, start] of Object.entries(RUNGS)) if (chosen.has(key)) variants.push(await start());
const load = (port: number, duration: number) =>
  autocannon({ url: `https://127.0.0.1:${port}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 16, duration });
for (const v of variants) await load(v.port, 4);
await interleavedRounds(variants, ROUNDS, SECONDS, load);
for (const v of variants) await stop(v.child);
const bare = median(variants[0]!.cpu);
console.log(`${scenario}, ${BINDINGS} bindings, ${ROUNDS} rounds of ${SECONDS} s, ${PINNED ? 'pinned' : 'not pinned'}`);
console.log('| rung | CPU µs/req, median | ratio to bare | req/s, median | rounds |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const v of variants) {
  const cpu = median(v.cpu);
  console.log(`| ${v.name} | ${cpu.toFixed(0)} | ${(cpu / bare).toFixed(2)} | ${Math.round(median(v.rps))} | ${v.cpu.map(Math.round).join(' ')} |`);
}
