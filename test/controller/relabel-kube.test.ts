/**
 * The relabel loop against the fake API server through real client-node: bindings changed in
 * the API reach 200 running Pods through the identity source's own watch, a Pod of another
 * ServiceAccount is never written, and races and faults end with every label right.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.ts';
import { captureLogger } from '../support/logger.ts';
import { eventually } from '../support/eventually.ts';
import type { ControllerManager } from '../../src/controller/manager.ts';
import { RecordingMetrics, annotationsOf, binding, groupsOf, labelledPod, namespace, startCluster, type Cluster } from './harness.ts';

const PODS = 200;
const podsOf = (api: FakeApiServer, sa: string) =>
  api.list('v1', 'Pod', 'payments').filter((p) => (p.spec as { serviceAccountName?: string }).serviceAccountName === sa);
const patches = (api: FakeApiServer, from: number) => api.requests.slice(from).filter((r) => r.method === 'PATCH' && r.resource === '/v1/pods');

describe('relabel against the API server', () => {
  let api: FakeApiServer;
  let cluster: Cluster;
  let manager: ControllerManager;
  const metrics = new RecordingMetrics();
  const log = captureLogger();
  /** Pods whose PATCH should first meet a conflicting write. */
  const conflictOn = new Set<string>();

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    api.seed([
      namespace('payments'),
      binding('payments', 'writers', ['payments-writers'], ['api']),
      binding('payments', 'readers', ['ledger-readers'], ['api', 'worker']),
    ]);
    for (let i = 0; i < PODS; i++)
      api.create(labelledPod('payments', `api-${i}`, 'api', ['ledger-readers', 'payments-writers'], ['payments/readers', 'payments/writers']));
    for (let i = 0; i < 3; i++) api.create(labelledPod('payments', `worker-${i}`, 'worker', ['ledger-readers'], ['payments/readers']));
    cluster = await startCluster(api, log.logger);
    manager = cluster.manager({
      identity: 'replica-a',
      logger: log.logger,
      metrics,
      enabled: ['relabel'],
      wrap: (apis) => ({
        ...apis,
        pods: {
          ...apis.pods,
          async patch(ns, name, patch) {
            if (conflictOn.delete(name)) {
              // Another writer gets in between our read and our write: our precondition is stale.
              const pod = api.get({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: ns, name } })!;
              api.update({ ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, touched: 'by-someone-else' } } });
            }
            return apis.pods.patch(ns, name, patch);
          },
        },
      }),
    });
    manager.start();
    await eventually(() => metrics.leading, 5000, 'leadership');
    await manager.relabel!.idle();
  });
  after(async () => {
    await cluster.stop();
    await api.close();
  });

  it('the start-up sweep finds the Pods already right and writes nothing', () => {
    assert.equal(patches(api, 0).length, 0);
    assert.equal(metrics.outcomes.unchanged, PODS + 3);
  });

  it('a binding deleted: 200 Pods lose the group label, other ServiceAccounts are untouched, one conflict is retried', async () => {
    const workersBefore = podsOf(api, 'worker').map((p) => p.metadata?.resourceVersion);
    const mark = api.requests.length;
    conflictOn.add('api-17');
    api.delete({ apiVersion: 'idgate.dev/v1alpha1', kind: 'OIDCGroupBinding', metadata: { namespace: 'payments', name: 'writers' } });
    await eventually(() => podsOf(api, 'api').every((p) => groupsOf(p).join() === 'ledger-readers'), 10_000, '200 Pods relabelled');
    await manager.relabel!.idle();
    for (const p of podsOf(api, 'api')) {
      assert.equal(annotationsOf(p)['idgate.dev/groups'], '["ledger-readers"]');
      assert.equal(annotationsOf(p)['idgate.dev/bindings'], 'payments/readers');
      assert.equal(p.metadata?.labels?.app, 'api', 'user labels kept');
    }
    assert.deepEqual(
      podsOf(api, 'worker').map((p) => p.metadata?.resourceVersion),
      workersBefore,
      'worker Pods never written',
    );
    const conflicted = podsOf(api, 'api').find((p) => p.metadata?.name === 'api-17');
    assert.equal(conflicted?.metadata?.labels?.touched, 'by-someone-else', "the other writer's change survives the retry");
    const sent = patches(api, mark);
    console.log(`binding deleted: ${sent.length} PATCHes for ${PODS} Pods; conflicts ${metrics.outcomes.conflict}`);
    assert.equal(sent.length, PODS + 1, 'one PATCH per Pod, plus the one that met the conflict');
    assert.equal(metrics.outcomes.conflict, 1);
    assert.ok(sent.every((r) => r.namespace === 'payments' && r.name?.startsWith('api-')));
    // Found with a label selector per ServiceAccount (the only other list is a sweep, after a new term).
    const lists = api.requests.slice(mark).filter((r) => r.method === 'GET' && r.resource === '/v1/pods' && !r.name);
    assert.ok(lists.some((r) => r.namespace === 'payments' && r.query.labelSelector === 'idgate.dev/service-account=api'));
    assert.ok(
      lists.every((r) => r.query.labelSelector?.startsWith('idgate.dev/service-account')),
      JSON.stringify(lists.map((r) => r.query)),
    );
    // One log line per batch; on a loaded machine the work may span two batches (a lease term
    // that ended under a stall is resumed by the next term's sweep), so the lines add up.
    const lines = log.lines.filter((l) => l.msg === 'relabelled Pods' && (l.serviceAccount === 'api' || l.sweep === true));
    assert.ok(lines.length > 0, 'a log line per batch');
    assert.equal(
      lines.reduce((n, l) => n + Number(l.patched), 0),
      PODS,
    );
    for (const l of lines) assert.deepEqual(l.changes, ['-group.idgate.dev/payments-writers']);
  });

  it('a group added: they gain it', async () => {
    const readers = api.get(binding('payments', 'readers', [], []))!;
    api.update({ ...readers, spec: { ...(readers.spec as object), groups: ['ledger-readers', 'payments-auditors'] } });
    await eventually(() => podsOf(api, 'api').every((p) => groupsOf(p).join() === 'ledger-readers,payments-auditors'), 10_000, 'group added');
    await eventually(() => podsOf(api, 'worker').every((p) => groupsOf(p).join() === 'ledger-readers,payments-auditors'), 10_000, 'worker too (it is bound)');
  });

  it('quiet when nothing changed: a binding edit that grants the same writes nothing', async () => {
    await manager.relabel!.idle();
    const mark = api.requests.length;
    const readers = api.get(binding('payments', 'readers', [], []))!;
    api.update({ ...readers, metadata: { ...readers.metadata, annotations: { note: 'edited' } } });
    await new Promise((r) => setTimeout(r, 300));
    await manager.relabel!.idle();
    assert.equal(patches(api, mark).length, 0);
  });
});

describe('relabel under bad input and a failing API server', () => {
  let api: FakeApiServer;
  let cluster: Cluster;
  let manager: ControllerManager;
  const metrics = new RecordingMetrics();
  const log = captureLogger('debug');
  let onList: ((ns: string | undefined) => void) | undefined;

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    api.seed([namespace('shop'), namespace('doomed'), binding('shop', 'web', ['shop-readers'], ['web'])]);
    for (let i = 0; i < 20; i++) api.create(labelledPod('shop', `web-${i}`, 'web', ['shop-readers'], ['shop/web']));
    for (let i = 0; i < 5; i++) api.create(labelledPod('doomed', `d-${i}`, 'svc', [], []));
    cluster = await startCluster(api, log.logger);
    manager = cluster.manager({
      identity: 'replica-a',
      logger: log.logger,
      metrics,
      enabled: ['relabel'],
      wrap: (apis) => ({
        ...apis,
        pods: {
          ...apis.pods,
          async list(ns, selector, page) {
            const result = await apis.pods.list(ns, selector, page);
            onList?.(ns);
            return result;
          },
        },
      }),
    });
    manager.start();
    await eventually(() => metrics.leading, 5000, 'leadership');
    await manager.relabel!.idle();
  });
  after(async () => {
    await cluster.stop();
    await api.close();
  });

  const shopGroups = () => api.list('v1', 'Pod', 'shop').map((p) => groupsOf(p).join());

  it('a binding naming a ServiceAccount with no Pods: one empty batch, no write', async () => {
    const mark = api.requests.length;
    api.create(binding('shop', 'ghost', ['ghosts'], ['nobody']));
    await eventually(() => log.lines.some((l) => l.serviceAccount === 'nobody'), 5000, 'batch for nobody');
    await manager.relabel!.idle();
    assert.equal(patches(api, mark).length, 0);
    const line = log.lines.find((l) => l.serviceAccount === 'nobody');
    assert.equal(line?.pods, 0);
  });

  it('a Pod deleted between list and patch is counted gone, the rest are patched', async () => {
    onList = (ns) => {
      if (ns !== 'shop') return;
      onList = undefined;
      api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'shop', name: 'web-3' } });
    };
    const web = api.get(binding('shop', 'web', [], []))!;
    api.update({ ...web, spec: { ...(web.spec as object), groups: ['shop-readers', 'shop-writers'] } });
    await eventually(() => shopGroups().every((g) => g === 'shop-readers,shop-writers'), 10_000, 'shop relabelled');
    await manager.relabel!.idle();
    console.log(`deleted between list and patch: gone=${metrics.outcomes.gone}, Pods left ${shopGroups().length}`);
    assert.equal(metrics.outcomes.gone, 1);
    assert.equal(shopGroups().length, 19);
  });

  it('a namespace deleted mid-reconcile: its Pods are gone, nothing crashes', async () => {
    const goneBefore = metrics.outcomes.gone;
    onList = (ns) => {
      if (ns !== 'doomed') return;
      onList = undefined;
      // The namespace controller deletes the contents, then the namespace.
      for (const p of api.list('v1', 'Pod', 'doomed')) api.delete(p);
      api.delete(namespace('doomed'));
    };
    api.create(binding('doomed', 'svc', ['late'], ['svc']));
    await eventually(() => metrics.outcomes.gone >= goneBefore + 5, 10_000, 'doomed Pods gone');
    await manager.relabel!.idle();
    console.log(`namespace deleted mid-reconcile: gone=${metrics.outcomes.gone - goneBefore}`);
    assert.equal(metrics.outcomes.failed, 0);
  });

  it('a PATCH refused (403, as an admission webhook denies): the batch is retried later and says why', async () => {
    const before = metrics.outcomes.failed;
    api.injectFault({ method: 'PATCH', resource: 'pods', status: 403, count: 3 });
    const web = api.get(binding('shop', 'web', [], []))!;
    api.update({ ...web, spec: { ...(web.spec as object), groups: ['shop-denied-first'] } });
    await eventually(() => shopGroups().every((g) => g === 'shop-denied-first'), 10_000, 'relabelled after the refusals');
    const line = log.lines.find((l) => l.msg === 'relabelled Pods; some failed and the batch will be retried');
    console.log(`refused: failed=${metrics.outcomes.failed - before}, first error: ${String(line?.firstError)}`);
    assert.equal(metrics.outcomes.failed - before, 3);
    assert.match(String(line?.firstError), /^patching identity labels of Pod shop\/web-\d+: 403: injected fault 403$/);
  });

  it('429s and 500s are retried until every label is right', async () => {
    const before = { ...metrics.outcomes };
    api.injectFault({ method: 'PATCH', resource: 'pods', status: 500, count: 25 });
    api.injectFault({ method: 'PATCH', resource: 'pods', status: 429, count: 25 });
    api.injectFault({ method: 'GET', resource: 'pods', watch: false, status: 500, count: 2 });
    const web = api.get(binding('shop', 'web', [], []))!;
    api.update({ ...web, spec: { ...(web.spec as object), groups: ['shop-admins'] } });
    await eventually(() => shopGroups().every((g) => g === 'shop-admins'), 20_000, 'shop relabelled through faults');
    await manager.relabel!.idle();
    const errors = metrics.outcomes.error - before.error;
    const failed = metrics.outcomes.failed - before.failed;
    console.log(`faults: errors retried=${errors}, Pods given up for a batch then requeued=${failed}, patched=${metrics.outcomes.patched - before.patched}`);
    assert.ok(errors >= 50, 'every injected fault was met and counted');
    assert.ok(log.lines.some((l) => l.msg === 'listing Pods to relabel failed; will retry'));
    for (const p of api.list('v1', 'Pod', 'shop')) {
      assert.equal(annotationsOf(p)['idgate.dev/groups'], '["shop-admins"]');
    }
  });
});

describe('relabel when leadership ends mid-batch', () => {
  it('writes nothing more once stopped, though Pods were left to do', async () => {
    const api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    api.seed([namespace('slow'), binding('slow', 'b', ['g'], ['svc'])]);
    for (let i = 0; i < 60; i++) api.create(labelledPod('slow', `s-${i}`, 'svc', ['g'], ['slow/b']));
    const cluster = await startCluster(api, captureLogger().logger);
    const metrics = new RecordingMetrics();
    const manager = cluster.manager({
      identity: 'replica-a',
      logger: captureLogger().logger,
      metrics,
      enabled: ['relabel'],
      tuning: { relabel: { patchesPerSecond: 20, burst: 1, concurrency: 2 } },
    });
    try {
      manager.start();
      await eventually(() => metrics.leading, 5000, 'leadership');
      await manager.relabel!.idle();
      const b = api.get(binding('slow', 'b', [], []))!;
      api.update({ ...b, spec: { ...(b.spec as object), groups: ['h'] } });
      await eventually(() => patches(api, 0).length >= 5, 10_000, 'relabel under way');
      await manager.stop();
      const atStop = patches(api, 0).length;
      await new Promise((r) => setTimeout(r, 500));
      const after = patches(api, 0).length;
      console.log(`stopped mid-batch: ${atStop} of 60 Pods patched at stop, ${after - atStop} PATCHes after`);
      assert.ok(atStop < 60, 'the batch was not finished');
      assert.equal(after, atStop);
    } finally {
      await cluster.stop();
      await api.close();
    }
  });
});
