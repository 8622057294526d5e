/**
 * `npm run bench:scale`: the webhook with 1k, 10k and 100k OIDCGroupBindings loaded from a file.
 * For each count: start-up time to ready (spawn → `/readyz` 200, wall and CPU time), RSS at rest (after the start-up
 * garbage is collected), admission p50/p99 of the typical Pod at a fixed rate (open loop, keep-
 * alive TLS), and the peak RSS. The built webhook (`npm run build`) with the Deployment's
 * NODE_OPTIONS, as in bench/run.ts.
 *
 *   BENCH_SCALE=1000,10000,100000 BENCH_SECONDS=5 BENCH_RATE=200 BENCH_SETTLE_MS=3000 node bench/scale.ts
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NODE_OPTIONS, benchCerts, cpuMicros, fixedRate, freePort, readyOrExit, rssMb, startWebhook, stop } from './common.ts';
import { SCENARIOS, bindingsYaml } from './fixtures.ts';

const COUNTS = (process.env.BENCH_SCALE ?? '1000,10000,100000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 3000);
const READY_TIMEOUT_MS = Number(process.env.BENCH_READY_TIMEOUT_MS ?? 300_000);

const { dir, ca } = await benchCerts();
const rows: string[] = [];
for (const count of COUNTS) {
  const file = join(dir, `bindings-${count}.yaml`);
  const generated = performance.now();
  const yaml = bindingsYaml(count);
  await writeFile(file, yaml);
  const generateMs = Math.round(performance.now() - generated);

  const port = await freePort();
  const started = performance.now();
  const webhook = startWebhook({ port, certDir: dir, bindingsFile: file });
  const ready = await readyOrExit(webhook, port, ca, READY_TIMEOUT_MS);
  if (ready !== 'ready') {
    await stop(webhook);
    rows.push(`| ${count} | ${(yaml.length / 1e6).toFixed(1)} MB | ${ready} | | | | | | | |`);
    continue;
  }
  const readyMs = Math.round(performance.now() - started);
  // CPU time is less sensitive than wall time to other work on a shared machine.
  const readyCpuMs = Math.round((await cpuMicros(webhook.pid!)) / 1000);
  const atReady = await rssMb(webhook.pid!);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const atRest = await rssMb(webhook.pid!);
  const { path, body } = SCENARIOS.typical;
  await fixedRate({ port, path, body, rate: RATE, seconds: 1, ca }); // warm-up
  const l = await fixedRate({ port, path, body, rate: RATE, seconds: SECONDS, ca });
  const peak = await rssMb(webhook.pid!, 'VmHWM');
  await stop(webhook);
  rows.push(
    `| ${count} | ${(yaml.length / 1e6).toFixed(1)} MB | ${readyMs} | ${readyCpuMs} | ${atReady} | ${atRest} | ${l.p50} | ${l.p99} | ${peak} | ${l.errors} |`,
  );
  console.error(`${count} bindings: file generated in ${generateMs} ms, ready in ${readyMs} ms`);
}

console.log(`idgate scale: typical Pod at ${RATE} req/s for ${SECONDS} s per count; RSS at rest ${SETTLE_MS} ms after ready; NODE_OPTIONS ${NODE_OPTIONS}`);
console.log('');
console.log('| bindings | file | start-up to ready ms | CPU to ready ms | RSS at ready MB | RSS at rest MB | p50 ms | p99 ms | peak RSS MB | failed |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
