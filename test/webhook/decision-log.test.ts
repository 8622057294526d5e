import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import { createLogger } from '../../src/cli/logger.ts';
import { DecisionLog, decisionLine } from '../../src/webhook/decision-log.ts';

/** A logger whose lines land in `lines`, with a fixed time so two lines of the same fields are byte-equal. */
function recording(options: LoggerOptions = {}): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      lines.push(...String(chunk).split(/(?<=\n)/));
      cb();
    },
  });
  return { logger: pino({ level: 'info', timestamp: () => ',"time":1', ...options }, stream), lines };
}

const request = (over: Partial<AdmissionRequest> = {}): AdmissionRequest =>
  ({
    uid: '7a1d0c5e-0000-4000-8000-000000000001',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    namespace: 'payments',
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    object: { metadata: { generateName: 'api-7d9c6b5f4-' } },
    ...over,
  }) as AdmissionRequest;

const cases: Array<{ name: string; request: AdmissionRequest; result: AdmissionResult; seconds: number }> = [
  { name: 'a patched Pod', request: request(), result: { allowed: true, log: { injected: true, reason: 'injected', patchOps: 9 } }, seconds: 0.000123 },
  {
    name: 'a denial with violations',
    request: request({ operation: 'UPDATE', name: 'web', dryRun: true }),
    result: { allowed: false, log: { violations: ['no-host-network', 'identity-labels'], identityUnavailable: ['trusted-issuer'] } },
    seconds: 0.0042,
  },
  {
    name: 'strings that need escaping',
    request: request({ name: 'a"b\\c', userInfo: { username: 'tab\there\nnewline\u0001 ünï 🦀' } }),
    result: { allowed: true, log: { reason: 'quote " backslash \\ and a long one '.repeat(5) } },
    seconds: 1.5,
  },
  {
    name: 'missing fields and odd values',
    request: request({ namespace: undefined, userInfo: undefined, object: undefined }),
    result: { allowed: true, log: { count: Number.NaN, nested: { a: [1, 'x'] }, nothing: undefined, no: false } },
    seconds: 0,
  },
];

describe('the decision log line', () => {
  for (const c of cases) {
    it(`is byte for byte what logger.info writes: ${c.name}`, () => {
      const fast = recording();
      const slow = recording();
      new DecisionLog(fast.logger).write('mutate', c.request, c.result, c.seconds);
      slow.logger.info(decisionLine('mutate', c.request, c.result, c.seconds), 'admission decision');
      assert.equal(fast.lines.length, 1);
      assert.equal(fast.lines[0], slow.lines[0]);
    });
  }

  /** The line of `cases[1]` written both ways with idgate's own logger: the text first, then `logger.info`'s. */
  function bothWaysWithIdgateLogger(): string[] {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      'idgate',
      new Writable({
        write(chunk, _e, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const c = cases[1]!;
    new DecisionLog(logger).write('validate', c.request, c.result, c.seconds);
    logger.info(decisionLine('validate', c.request, c.result, c.seconds), 'admission decision');
    return lines;
  }

  it("is what logger.info writes with idgate's own logger (redaction paths, name, pid)", () => {
    const lines = bothWaysWithIdgateLogger();
    const [fast, slow] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    delete fast!.time;
    delete slow!.time;
    assert.deepEqual(fast, slow);
    assert.equal(fast!.pid, process.pid);
    assert.equal(fast!.service, 'idgate');
  });

  it("carries one name, the reviewed object's, with idgate's own logger", () => {
    const lines = bothWaysWithIdgateLogger();
    assert.equal(lines.length, 2);
    const c = cases[1]!;
    for (const line of lines) {
      assert.equal(line.match(/"name":/g)?.length, 1, line);
      assert.equal((JSON.parse(line) as { name?: unknown }).name, decisionLine('validate', c.request, c.result, c.seconds).name);
    }
  });

  it('is not written below the info level', () => {
    const { logger, lines } = recording({ level: 'warn' });
    new DecisionLog(logger).write('mutate', request(), { allowed: true }, 0.001);
    assert.deepEqual(lines, []);
  });

  const fallbacks: Array<{ name: string; options: LoggerOptions; log: Record<string, unknown> }> = [
    { name: 'a redacted key in the handler log', options: { redact: ['token'] }, log: { token: 'secret' } },
    { name: 'a redacted key of the line itself', options: { redact: ['user'] }, log: {} },
    { name: 'a serializer', options: { serializers: { reason: () => 'serialized' } }, log: { reason: 'raw' } },
    { name: 'a mixin', options: { mixin: () => ({ trace: 'abc' }) }, log: {} },
    { name: 'a log formatter', options: { formatters: { log: (o) => ({ ...o, formatted: true }) } }, log: {} },
    { name: 'a message prefix', options: { msgPrefix: '[idgate] ' }, log: {} },
    { name: 'a nested key', options: { nestedKey: 'payload' }, log: {} },
    { name: 'a handler key that repeats a key of the line', options: {}, log: { name: 'other' } },
    { name: 'a handler key that needs escaping', options: {}, log: { 'a"b': 1 } },
  ];
  for (const f of fallbacks) {
    it(`goes through logger.info with ${f.name}`, () => {
      const fast = recording(f.options);
      const slow = recording(f.options);
      const result: AdmissionResult = { allowed: true, log: f.log };
      new DecisionLog(fast.logger).write('mutate', request(), result, 0.001);
      slow.logger.info(decisionLine('mutate', request(), result, 0.001), 'admission decision');
      assert.equal(fast.lines.length, 1);
      assert.equal(fast.lines[0], slow.lines[0]);
    });
  }
});
