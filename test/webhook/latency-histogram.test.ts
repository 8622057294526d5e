import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { LatencyHistogram } from '../../src/webhook/latency-histogram.ts';
import { LATENCY_BUCKETS } from '../../src/webhook/metrics.ts';

const name = 'idgate_admission_duration_seconds';
const help = 'Time to answer an admission request.';

/** Ours and prom-client's own histogram, each on its own registry, fed the same observations. */
function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const latency = new LatencyHistogram({ name, help, buckets: LATENCY_BUCKETS, registers: [ours] });
  const reference = new Histogram({ name, help, labelNames: ['webhook', 'operation', 'decision'], buckets: LATENCY_BUCKETS, registers: [theirs] });
  const observe = (webhook: string, operation: string, decision: string, seconds: number) => {
    latency.observe(webhook, operation, decision, seconds);
    reference.observe({ webhook, operation, decision }, seconds);
  };
  return { ours, theirs, observe };
}

// Every bucket, each bound exactly (le is inclusive), above the last bound, interleaved series.
const OBSERVATIONS: Array<[string, string, string, number]> = [
  ['mutate', 'CREATE', 'patched', 0.0001],
  ['validate', 'UPDATE', 'denied', 0.005],
  ['mutate', 'CREATE', 'patched', 0.0050001],
  ['mutate', 'CREATE', 'allowed', 0.025],
  ['validate', 'UPDATE', 'denied', 0.3],
  ['mutate', 'CREATE', 'patched', 0.1],
  ['integrity', 'UPDATE', 'allowed', 1],
  ['mutate', 'CREATE', 'patched', 2.5],
  ['validate', 'UPDATE', 'denied', 7.25],
  ['mutate', 'CREATE', 'patched', 0],
];

describe('the admission latency histogram', () => {
  it('shows on /metrics byte for byte what prom-client’s Histogram shows for the same observations', async () => {
    const { ours, theirs, observe } = pair();
    assert.equal(await ours.metrics(), await theirs.metrics(), 'before any observation');
    for (const o of OBSERVATIONS) observe(...o);
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(text, /idgate_admission_duration_seconds_bucket\{le="0.005",webhook="validate",operation="UPDATE",decision="denied"\} 1\n/);
    assert.match(text, /idgate_admission_duration_seconds_bucket\{le="\+Inf",webhook="validate",operation="UPDATE",decision="denied"\} 3\n/);
    assert.match(text, /idgate_admission_duration_seconds_count\{webhook="mutate",operation="CREATE",decision="patched"\} 5\n/);
  });

  it('gives the same JSON as prom-client (getMetricsAsJSON), and forgets everything on reset', async () => {
    const { ours, theirs, observe } = pair();
    for (const o of OBSERVATIONS) observe(...o);
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
    ours.resetMetrics();
    theirs.resetMetrics();
    assert.equal(await ours.metrics(), await theirs.metrics());
    observe('mutate', 'CREATE', 'patched', 0.01);
    assert.equal(await ours.metrics(), await theirs.metrics(), 'counts again after a reset');
  });
});
