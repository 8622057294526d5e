/**
 * The default-deny loop against the fake API server through real client-node: created on
 * enrolment, restored when changed or deleted, removed when the namespace leaves enrolment,
 * someone else's policy left alone, and write failures retried.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.ts';
import { captureLogger } from '../support/logger.ts';
import { eventually } from '../support/eventually.ts';
import { defaultDenySpec } from '../../src/controller/default-deny.ts';
import { RecordingMetrics, annotationsOf, namespace, startCluster, type Cluster } from './harness.ts';

const policyRef = (ns: string): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: ns, name: 'idgate-default-deny' },
});

describe('default-deny against the API server', () => {
  let api: FakeApiServer;
  let cluster: Cluster;
  const log = captureLogger();
  const metrics = new RecordingMetrics();
  const policy = (ns: string) => api.get(policyRef(ns));
  const inPlace = (ns: string) => isDeepStrictEqual(policy(ns)?.spec, defaultDenySpec());

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    api.seed([
      namespace('payments'),
      namespace('shop', {}),
      namespace('kube-system', { 'idgate.dev/inject': 'enabled' }),
      // A team's own policy of that name in a namespace that is not enrolled.
      namespace('legacy', {}),
      { ...policyRef('legacy'), spec: { podSelector: {}, policyTypes: ['Ingress'] } },
    ]);
    cluster = await startCluster(api, log.logger);
    cluster.manager({ identity: 'replica-a', logger: log.logger, metrics, enabled: ['default-deny'] }).start();
  });
  after(async () => {
    await cluster.stop();
    await api.close();
  });

  it('creates the policy in enrolled namespaces at start, never in exempt ones', async () => {
    await eventually(() => inPlace('payments'), 10_000, 'policy in payments');
    assert.equal(policy('payments')?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'idgate');
    assert.equal(policy('shop'), undefined);
    assert.equal(policy('kube-system'), undefined);
  });

  it('creates it when a namespace enrols', async () => {
    api.update({ ...api.get(namespace('shop'))!, metadata: { ...api.get(namespace('shop'))!.metadata, labels: { 'idgate.dev/inject': 'enabled' } } });
    await eventually(() => inPlace('shop'), 10_000, 'policy in shop');
  });

  it('restores it when it is changed, keeping what else the object carries', async () => {
    const current = policy('payments')!;
    api.update({
      ...current,
      metadata: { ...current.metadata, annotations: { team: 'note' } },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] },
    });
    await eventually(() => inPlace('payments'), 10_000, 'policy restored');
    assert.equal(annotationsOf(policy('payments')).team, 'note');
    // The controller logs once the API server has answered its write, which can come after the
    // fake already shows the policy restored: wait for the line rather than race it.
    await eventually(() => log.lines.some((l) => l.msg === 'restored default-deny policy' && l.namespace === 'payments'), 5_000, 'the restore logged');
  });

  it('puts it back when it is deleted', async () => {
    api.delete(policyRef('payments'));
    await eventually(() => inPlace('payments'), 10_000, 'policy recreated');
  });

  it("removes it when the namespace leaves enrolment; leaves a team's own policy alone", async () => {
    const ns = api.get(namespace('shop'))!;
    api.update({ ...ns, metadata: { ...ns.metadata, labels: {} } });
    await eventually(() => policy('shop') === undefined, 10_000, 'policy removed');
    assert.deepEqual(policy('legacy')?.spec, { podSelector: {}, policyTypes: ['Ingress'] });
  });

  it('a failing API server: the write is retried until it lands', async () => {
    api.injectFault({ method: 'POST', resource: 'networkpolicies', status: 500, count: 2 });
    api.injectFault({ method: 'POST', resource: 'networkpolicies', status: 429, count: 1 });
    api.create(namespace('late'));
    await eventually(() => inPlace('late'), 10_000, 'policy in late');
    const failures = log.lines.filter((l) => l.msg === 'default-deny write failed; will retry' && l.namespace === 'late').length;
    console.log(`default-deny: ${failures} failed writes retried before the policy landed`);
    assert.equal(failures, 3);
  });

  it('a namespace deleted before the write: dropped, not retried forever', async () => {
    api.injectFault({ method: 'POST', resource: 'networkpolicies', status: 404, count: 1 });
    api.create(namespace('brief'));
    await eventually(
      () => log.lines.some((l) => l.namespace === 'brief' && l.msg === 'namespace gone or terminating; default-deny not needed'),
      10_000,
      'brief dropped',
    );
    api.delete(namespace('brief'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(policy('brief'), undefined);
  });
});
