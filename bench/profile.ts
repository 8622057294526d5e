/**
 * `npm run bench:profile`: where the webhook's time goes at saturation. Runs the built webhook
 * (or, with `bare`, the yardstick of bench/run.ts) under `--cpu-prof`, loads it with autocannon
 * (16 connections, after a warm-up), and prints the functions with the most self time during the
 * measured window, in percent and in microseconds per request.
 *
 *   node bench/profile.ts [idgate|bare] [--scenario typical] [--seconds 6] [--top 25] [--by function|module]
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchCerts, spawnServer, untilReady, pinLoadGenerator } from './common.ts';
import { SCENARIOS, bindingsYaml, type ScenarioName } from './fixtures.ts';

pinLoadGenerator();

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * tsc's build of the same sources as the shipped bundle, file for file and with their names, so
 * the table names idgate's files and functions (the bundle's are minified). BENCH_MAIN overrides.
 */
const MAIN = process.env.BENCH_MAIN ?? 'dist/src/cli/main.js';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scenario: { type: 'string', default: 'typical' },
    seconds: { type: 'string', default: '6' },
    top: { type: 'string', default: '25' },
    // `--by module`: self time summed per npm package, idgate file, node internal module or native function.
    by: { type: 'string', default: 'function' },
  },
});
const target = positionals[0] ?? 'idgate';
const scenario = values.scenario as ScenarioName;
const seconds = Number(values.seconds);
if (!(scenario in SCENARIOS) || !['idgate', 'bare'].includes(target)) {
  console.error(`usage: node bench/profile.ts [idgate|bare] [--scenario ${Object.keys(SCENARIOS).join('|')}] [--seconds N] [--top N]`);
  process.exit(2);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function functionOf({ functionName, url, lineNumber }: ProfileNode['callFrame']): string {
  const where = url
    .replace(/^.*node_modules\//, '')
    .replace(ROOT, '')
    .replace(/^file:\/\//, '');
  return `${functionName || '(anonymous)'}${where ? ` ${where}:${lineNumber + 1}` : ''}`;
}

/** The package, idgate file or node module a frame belongs to; native frames (no url) by name. */
function moduleOf({ functionName, url }: ProfileNode['callFrame']): string {
  if (!url) return functionName.startsWith('(') ? functionName : `native ${functionName || '(anonymous)'}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '').replace(ROOT, '');
}

/** Self time per function (or module) over [from, to] (monotonic clock, µs). */
function selfTimes(profile: CpuProfile, from: number, to: number): { total: number; rows: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) return;
    const name = values.by === 'module' ? moduleOf(byId.get(id)!.callFrame) : functionOf(byId.get(id)!.callFrame);
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  return { total, rows: [...self].sort((a, b) => b[1] - a[1]) };
}

const { dir, ca } = await benchCerts();
await writeFile(join(dir, 'bindings.yaml'), bindingsYaml(10_000));
const profDir = join(dir, 'profile');
const port = 18_000 + Math.floor(Math.random() * 1000);
const args =
  target === 'bare'
    ? ['bench/bare-server.ts', dir, '2700']
    : [MAIN, 'webhook', '--config', 'examples/baseline.yaml', '--bindings-file', join(dir, 'bindings.yaml'), '--tls-dir', dir, '--listen', `127.0.0.1:${port}`];
const child = spawnServer(['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...args], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=128 --max-semi-space-size=16' },
});
const listening = target === 'bare' ? await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim())))) : port;
child.stdout!.resume();
// Started, bindings loaded (a SIGTERM before the webhook's handlers are installed would kill it without a profile).
if (target === 'idgate') await untilReady(listening, ca, 300_000);

const { path, body } = SCENARIOS[scenario];
const load = (duration: number) =>
  autocannon({
    url: `https://127.0.0.1:${listening}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: 16,
    duration,
  });
await load(2);
// V8 stamps samples with the monotonic clock in µs, the clock process.hrtime reads.
const now = () => Number(process.hrtime.bigint() / 1000n);
const from = now();
const result = await load(seconds);
const to = now();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));

const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(await readFile(join(profDir, file!), 'utf8')) as CpuProfile;
const { total, rows } = selfTimes(profile, from, to);
const rps = result.requests.average;
console.log(
  `${target}, ${scenario}: ${Math.round(rps)} req/s with 16 connections (${result.non2xx + result.errors} failed); ${(1e6 / rps).toFixed(1)} µs per request`,
);
console.log(`profile: ${join(profDir, file!)}`);
console.log('');
console.log('| self time | % | µs per request |');
console.log('| --- | ---: | ---: |');
for (const [name, us] of rows.slice(0, Number(values.top))) {
  console.log(`| ${name} | ${((us / total) * 100).toFixed(1)} | ${((us / total) * (1e6 / rps)).toFixed(1)} |`);
}
