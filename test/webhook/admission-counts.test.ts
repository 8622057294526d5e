import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../src/webhook/metrics.ts';

/** The value of one sample of the /metrics text, or undefined. */
async function sample(metrics: ReturnType<typeof createMetrics>, line: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('admission counts reach /metrics at each scrape', () => {
  it('counts every answered request once, however often /metrics is read', async () => {
    const metrics = createMetrics(undefined, { processMetrics: false });
    const patched = 'idgate_admission_requests_total{webhook="mutate",operation="CREATE",decision="patched"}';
    const shed = 'idgate_admission_requests_total{webhook="validate",operation="unknown",decision="shed"}';
    metrics.admission.answered('mutate', 'CREATE', 'patched');
    metrics.admission.answered('mutate', 'CREATE', 'patched');
    metrics.admission.answered('validate', 'unknown', 'shed');
    assert.equal(await sample(metrics, patched), 2);
    assert.equal(await sample(metrics, shed), 1);
    assert.equal(await sample(metrics, patched), 2, 'a second scrape adds nothing');
    metrics.admission.answered('mutate', 'CREATE', 'patched');
    assert.equal(await sample(metrics, patched), 3);
    assert.equal(await sample(metrics, shed), 1);
  });

  it('reports the requests in flight per webhook, back to 0 when they end', async () => {
    const metrics = createMetrics(undefined, { processMetrics: false });
    const mutate = 'idgate_admission_in_flight_requests{webhook="mutate"}';
    metrics.admission.begin('mutate');
    metrics.admission.begin('mutate');
    metrics.admission.begin('validate');
    assert.equal(await sample(metrics, mutate), 2);
    metrics.admission.end('mutate');
    assert.equal(await sample(metrics, mutate), 1);
    metrics.admission.end('mutate');
    metrics.admission.end('validate');
    assert.equal(await sample(metrics, mutate), 0);
    assert.equal(await sample(metrics, 'idgate_admission_in_flight_requests{webhook="validate"}'), 0);
  });

  it('counts mutation outcomes once each, however often /metrics is read', async () => {
    const metrics = createMetrics(undefined, { processMetrics: false });
    const injected = 'idgate_mutations_total{result="injected"}';
    metrics.mutationOutcomes.add('injected');
    metrics.mutationOutcomes.add('injected');
    metrics.mutationOutcomes.add('dry-run');
    assert.equal(await sample(metrics, injected), 2);
    assert.equal(await sample(metrics, injected), 2, 'a second scrape adds nothing');
    metrics.mutationOutcomes.add('injected');
    assert.equal(await sample(metrics, injected), 3);
    assert.equal(await sample(metrics, 'idgate_mutations_total{result="dry-run"}'), 1);
  });
});
