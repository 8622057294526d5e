/**
 * Two replicas' controllers against one API server: exactly one acts; when the leader is cut
 * off from the API server (a crash, as far as the Lease can tell) the other takes over within
 * the lease duration, and never while the first still acts; a leader that stops hands over at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.ts';
import { silentLogger } from '../support/logger.ts';
import { eventually } from '../support/eventually.ts';
import type { ControllerManager } from '../../src/controller/manager.ts';
import { ApiCallError } from '../../src/controller/ports.ts';
import { FAST_TIMINGS, RecordingMetrics, binding, groupsOf, labelledPod, namespace, startCluster, type Cluster } from './harness.ts';

describe('leader election between two replicas', () => {
  let api: FakeApiServer;
  let cluster: Cluster;
  const replicas: Record<'a' | 'b', { manager: ControllerManager; metrics: RecordingMetrics; writes: number; cut: boolean }> = {} as never;
  let overlaps = 0;
  let sampler: NodeJS.Timeout;

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    api.seed([namespace('payments'), binding('payments', 'writers', ['payments-writers'], ['api'])]);
    for (let i = 0; i < 20; i++) api.create(labelledPod('payments', `api-${i}`, 'api', [], []));
    cluster = await startCluster(api, silentLogger);
    for (const name of ['a', 'b'] as const) {
      const state = { metrics: new RecordingMetrics(), writes: 0, cut: false } as (typeof replicas)['a'];
      state.manager = cluster.manager({
        identity: `replica-${name}`,
        logger: silentLogger,
        metrics: state.metrics,
        wrap: (apis) => ({
          ...apis,
          // A replica "cut off" gets no answer from the Lease any more, as if it had crashed.
          lease: {
            id: apis.lease.id,
            get: () => (state.cut ? Promise.reject(new ApiCallError('connection refused', undefined)) : apis.lease.get()),
            create: (r) => (state.cut ? Promise.reject(new ApiCallError('connection refused', undefined)) : apis.lease.create(r)),
            update: (r, v) => (state.cut ? Promise.reject(new ApiCallError('connection refused', undefined)) : apis.lease.update(r, v)),
          },
          pods: {
            ...apis.pods,
            patch: (ns, n, p) => {
              state.writes++;
              return apis.pods.patch(ns, n, p);
            },
          },
          policies: {
            create: (p) => {
              state.writes++;
              return apis.policies.create(p);
            },
            replace: (p) => {
              state.writes++;
              return apis.policies.replace(p);
            },
            delete: (ns, n, rv) => {
              state.writes++;
              return apis.policies.delete(ns, n, rv);
            },
          },
        }),
      });
      replicas[name] = state;
    }
    sampler = setInterval(() => {
      if (replicas.a.manager.isLeader() && replicas.b.manager.isLeader()) overlaps++;
    }, 10);
    replicas.a.manager.start();
    await eventually(() => replicas.a.manager.isLeader(), 5000, 'a leads');
    replicas.b.manager.start();
  });
  after(async () => {
    clearInterval(sampler);
    await cluster.stop();
    await api.close();
  });

  it('exactly one acts', async () => {
    await eventually(() => api.list('v1', 'Pod', 'payments').every((p) => groupsOf(p).join() === 'payments-writers'), 10_000, 'Pods relabelled');
    await eventually(
      () =>
        api.get({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'payments', name: 'idgate-default-deny' } }) !== undefined,
      10_000,
      'policy',
    );
    // Give b several retry periods to (wrongly) act too.
    await new Promise((r) => setTimeout(r, FAST_TIMINGS.retryPeriodMs * 4));
    console.log(`writes: a=${replicas.a.writes}, b=${replicas.b.writes}`);
    assert.equal(replicas.a.writes, 21, '20 Pods and one policy');
    assert.equal(replicas.b.writes, 0);
    assert.equal(replicas.b.manager.isLeader(), false);
    assert.equal(replicas.a.metrics.leading, true);
    assert.equal(replicas.b.metrics.leading, false);
    const lease = api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: 'idgate-system', name: 'idgate-controller' } });
    assert.equal((lease!.spec as { holderIdentity?: string }).holderIdentity, 'replica-a');
  });

  it('the leader cut off: it steps down, the other takes over within the lease duration, never both at once', async () => {
    const cutAt = performance.now();
    replicas.a.cut = true;
    await eventually(() => !replicas.a.manager.isLeader(), 10_000, 'a steps down');
    const steppedDown = performance.now() - cutAt;
    await eventually(() => replicas.b.manager.isLeader(), 10_000, 'b takes over');
    const tookOver = performance.now() - cutAt;
    console.log(
      `cut off: a stepped down after ${steppedDown.toFixed(0)} ms, b took over after ${tookOver.toFixed(0)} ms (lease duration ${FAST_TIMINGS.leaseDurationMs} ms, plus b's retry period)`,
    );
    assert.equal(overlaps, 0);
    // b acts: a binding change is carried out by b alone.
    const aWrites = replicas.a.writes;
    api.delete(binding('payments', 'writers', [], []));
    await eventually(() => api.list('v1', 'Pod', 'payments').every((p) => groupsOf(p).length === 0), 10_000, 'relabelled by b');
    assert.equal(replicas.a.writes, aWrites);
    assert.ok(replicas.b.writes >= 20);
  });

  it('a leader that stops releases the Lease: the other takes over at its next attempt', async () => {
    replicas.a.cut = false;
    await new Promise((r) => setTimeout(r, FAST_TIMINGS.retryPeriodMs * 3));
    assert.equal(replicas.a.manager.isLeader(), false, 'a, back, waits: b holds the Lease');
    const stopAt = performance.now();
    await replicas.b.manager.stop();
    await eventually(() => replicas.a.manager.isLeader(), 10_000, 'a takes over');
    console.log(`released: a took over ${(performance.now() - stopAt).toFixed(0)} ms after b stopped`);
    assert.equal(overlaps, 0);
    const lease = api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: 'idgate-system', name: 'idgate-controller' } });
    assert.equal((lease!.spec as { holderIdentity?: string }).holderIdentity, 'replica-a');
    assert.ok(Number((lease!.spec as { leaseTransitions?: number }).leaseTransitions) >= 2);
  });
});
