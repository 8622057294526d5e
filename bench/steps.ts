/**
 * `node bench/steps.ts`: the CPU time of each step idgate adds to one admission request, in
 * process (no TLS, no sockets), per benchmark scenario: reading the JSON (what the bare server
 * does too), decoding and the shape guard, the handler, encoding the answer, the decision log
 * line (serialized to a stream that discards it) and the metrics. CPU time (process.cpuUsage)
 * over many iterations, so it holds up better than wall time on a shared machine.
 *
 *   node bench/steps.ts [--iterations 20000]
 */
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { decodeReview, encodeReviewJson } from '../src/admission/review.ts';
import { guardObjectShape } from '../src/admission/shape.ts';
import type { AdmissionHandler, AdmissionRequest, AdmissionResult } from '../src/admission/types.ts';
import { loadBaseline } from '../src/baseline/config.ts';
import { createValidateHandler } from '../src/baseline/handler.ts';
import { BindingIndex } from '../src/identity/index.ts';
import { createMutateHandler } from '../src/mutate/handler.ts';
import { DecisionLog } from '../src/webhook/decision-log.ts';
import { createMetrics } from '../src/webhook/metrics.ts';
import { SCENARIOS, type ScenarioName } from './fixtures.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const N = Number(values.iterations);

const baseline = loadBaseline('examples/baseline.yaml');
const identity = new BindingIndex();
identity.upsert({
  namespace: 'payments',
  name: 'binding-0',
  issuer: 'https://keycloak.example.com/realms/prod',
  groups: ['payments-writers', 'ledger-readers'],
  serviceAccounts: ['api'],
});
identity.markSynced();
const logger = pino({ level: 'info' }, new Writable({ write: (_c, _e, cb) => cb() }));
const deps = { baseline: () => baseline, identity, logger, selfUsername: () => 'system:serviceaccount:idgate-system:idgate' };
const handlers: Record<string, AdmissionHandler> = {
  '/mutate/pods': createMutateHandler({ ...deps, version: '0.1.0' }),
  '/validate': createValidateHandler(deps),
  '/validate/integrity': createValidateHandler({ ...deps, scope: 'integrity' }),
};
const metrics = createMetrics(undefined, { processMetrics: false });

/** CPU µs per call of `f`, after a warm-up of the same length. */
async function cpu(f: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < N; i++) await f();
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) await f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

console.log(`idgate steps: CPU µs per request, in process, ${N} iterations after as many of warm-up`);
console.log('');
console.log('| scenario | JSON.parse | decode + shape guard | handler | encode answer | decision log line | metrics | idgate total (without JSON.parse) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const name of Object.keys(SCENARIOS) as ScenarioName[]) {
  const { path, body } = SCENARIOS[name];
  const handler = handlers[path]!;
  const webhook = path === '/mutate/pods' ? 'mutate' : path === '/validate' ? 'validate' : 'integrity';
  const parsed = () => JSON.parse(body) as unknown;
  const request = (): AdmissionRequest => {
    const r = decodeReview(parsed());
    guardObjectShape(r);
    return r;
  };
  const req = request();
  const result: AdmissionResult = await handler(request());
  const parse = await cpu(parsed);
  const decode = (await cpu(request)) - parse;
  // A fresh request each time: the handler must not see an object it already mutated.
  const handle = (await cpu(() => handler(request()))) - parse - decode;
  const encode = await cpu(() => encodeReviewJson(req.uid, result));
  const decisions = new DecisionLog(logger);
  const log = await cpu(() => decisions.write(webhook, req, result, 0.00012));
  const labels = { webhook, operation: req.operation, decision: 'allowed' };
  const metric = await cpu(() => {
    metrics.admission.begin(webhook);
    metrics.admission.end(webhook);
    metrics.admission.answered(webhook, labels.operation, labels.decision);
    metrics.duration.observe(webhook, labels.operation, labels.decision, 0.0001);
  });
  const f = (x: number) => x.toFixed(1);
  console.log(
    `| ${name} | ${f(parse)} | ${f(decode)} | ${f(handle)} | ${f(encode)} | ${f(log)} | ${f(metric)} | ${f(decode + handle + encode + log + metric)} |`,
  );
}
