/**
 * `node bench/log-line.ts | cat > /dev/null`: CPU per decision log line of the process logger
 * (src/cli/logger.ts) writing to a pipe, as in a container: one line per turn of the event loop,
 * as a server writes them (one per request), CPU of every thread of the process (pino's default
 * destination writes from libuv's thread pool), less the same loop with the logger silent.
 * With `--before DIR` (an earlier build's `src`, e.g. dist/before/src), that build's logger is
 * measured too, in alternating rounds of the same process. Results go to stderr (stdout is the
 * pipe being measured).
 *
 *   node bench/log-line.ts [--before dist/before/src] [--lines 50000] [--rounds 3] | cat > /dev/null
 */
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { ROOT } from './common.ts';

const { values } = parseArgs({
  options: { before: { type: 'string' }, lines: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '3' } },
});
const LINES = Number(values.lines);
type CreateLogger = (level: 'info', name: string) => Logger;
const variants: Array<[string, CreateLogger]> = [['now', (await import('../src/cli/logger.ts')).createLogger as CreateLogger]];
if (values.before) {
  const dir = isAbsolute(values.before) ? values.before : join(ROOT, values.before);
  variants.unshift(['before', ((await import(join(dir, 'cli/logger.js'))) as { createLogger: CreateLogger }).createLogger]);
}

/** A decision line like the route's (src/webhook/app.ts) for a typical Pod. */
function decision(logger: Logger, i: number): void {
  logger.info(
    {
      webhook: 'mutate',
      uid: `7a1d0c5e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      kind: 'Pod',
      namespace: 'payments',
      name: 'payments-api-7d9c6b5f4-',
      operation: 'CREATE',
      user: 'system:serviceaccount:kube-system:replicaset-controller',
      allowed: true,
      dryRun: false,
      durationMs: 0.12,
      injected: true,
      groups: ['ledger-readers', 'payments-writers'],
      patchOps: 9,
    },
    'admission decision',
  );
}

const silent = variants[0]![1]('info', 'idgate');
silent.level = 'silent';
const loggers = [['silent', silent] as const, ...variants.map(([name, create]) => [name, create('info', 'idgate')] as const)];

/** CPU µs of LINES lines, one per setImmediate turn. */
async function run(logger: Logger): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < LINES; i++) {
    decision(logger, i);
    await new Promise(setImmediate);
  }
  logger.flush();
  await new Promise((r) => setTimeout(r, 20));
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

const results = new Map<string, number[]>();
for (let round = 0; round < Number(values.rounds) + 1; round++) {
  const base = await run(silent);
  for (const [name, logger] of loggers.slice(1)) {
    const used = await run(logger);
    // Round 0 warms up.
    if (round > 0) results.set(name, [...(results.get(name) ?? []), (used - base) / LINES]);
  }
}
for (const [name, us] of results) {
  process.stderr.write(
    `${name}: ${us.map((u) => u.toFixed(2)).join(', ')} µs CPU per line (median ${[...us].sort((a, b) => a - b)[Math.floor(us.length / 2)]!.toFixed(2)})\n`,
  );
}
