import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { eventually } from '../support/eventually.ts';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createKubeIdentitySource, type KubeIdentitySource, type KubeIdentitySourceOptions } from '../../src/kube/identity-source.ts';

const ISSUER = 'https://idp.example.com';
const trusted = new Set([ISSUER]);

const binding = (name: string, namespace: string, groups: string[], serviceAccounts = ['api']): KubeObject => ({
  apiVersion: 'idgate.dev/v1alpha1',
  kind: 'OIDCGroupBinding',
  metadata: { name, namespace },
  spec: { issuer: ISSUER, groups, serviceAccounts },
});
/** The 2-second deadline of the issue's 'reflected within 2 seconds'. */
const until = (what: string, cond: () => boolean, ms = 2000) => eventually(cond, ms, what);

const namespace = (name: string, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('Kubernetes identity source against the fake API server', () => {
  let api: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  let source: KubeIdentitySource | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-kube-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 100 });
    kubeconfig = await api.writeKubeconfig(dir);
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await api.close();
  });

  const startSource = async (opts: Partial<KubeIdentitySourceOptions> = {}) => {
    const log = capture();
    source = createKubeIdentitySource({ kubeConfig: loadKubeConfig(kubeconfig), logger: log.logger, backoffMs: { initial: 50, max: 200 }, ...opts });
    return { source, lines: log.lines };
  };
  const groupsOf = (s: KubeIdentitySource, ns: string, sa = 'api') => s.index.resolve(ns, sa, trusted).groups;

  it('syncs, then reflects create, change and delete of bindings and namespace labels', async () => {
    api.seed([namespace('payments', { team: 'pay' }), binding('writers', 'payments', ['payments-writers'])]);
    const { source: s } = await startSource();
    assert.equal(s.index.ready(), false);
    await s.start();
    assert.equal(s.index.ready(), true);
    assert.deepEqual(groupsOf(s, 'payments'), ['payments-writers']);
    assert.deepEqual(s.index.namespaceLabels('payments'), { team: 'pay' });

    api.create(binding('readers', 'payments', ['ledger-readers']));
    await until('created binding', () => groupsOf(s, 'payments').includes('ledger-readers'));

    const current = api.get(binding('writers', 'payments', []))!;
    api.update({ ...current, spec: { issuer: ISSUER, groups: ['payments-admins'], serviceAccounts: ['api'] } });
    await until('changed binding', () => groupsOf(s, 'payments').join() === 'ledger-readers,payments-admins');

    api.delete(binding('readers', 'payments', []));
    await until('deleted binding', () => groupsOf(s, 'payments').join() === 'payments-admins');

    api.create(namespace('shop', { tier: 'web' }));
    await until('new namespace', () => s.index.namespaceLabels('shop')?.tier === 'web');
    api.delete(namespace('shop'));
    await until('deleted namespace', () => s.index.namespaceLabels('shop') === undefined);

    const status = s.status();
    assert.equal(status.synced, true);
    assert.equal(status.kind, 'kubernetes');
    assert.equal(status.restarts, 0);
    assert.equal(typeof status.lastEventAt, 'number');
  });

  it('skips and logs a malformed binding, and drops a binding edited into a malformed one', async () => {
    api.seed([binding('good', 'a', ['g']), { ...binding('bad', 'a', ['x']), spec: { issuer: 'http://insecure', groups: [], serviceAccounts: ['api'] } }]);
    const { source: s, lines } = await startSource();
    await s.start();
    assert.deepEqual(
      s.index.bindings().map((b) => b.name),
      ['good'],
    );
    const warn = lines.find((l) => String(l.msg).includes('OIDCGroupBinding a/bad is invalid'));
    assert.ok(warn, 'malformed binding logged');
    assert.deepEqual(warn.issues, [
      'spec.issuer: "http://insecure" is not an https URL: OIDC issuers must use https (e.g. https://keycloak.example.com/realms/prod)',
      "spec.groups: must not be empty: list at least one group (a value of the issuer's groups claim)",
    ]);

    const good = api.get(binding('good', 'a', []))!;
    api.update({ ...good, spec: { issuer: ISSUER, groups: ['g'], serviceAccounts: ['NOT VALID'] } });
    await until('binding dropped', () => s.index.bindings().length === 0);
  });

  it('start() does not resolve before the first list completes', async () => {
    api.seed([binding('b', 'a', ['g'])]);
    const release = api.holdLists('oidcgroupbindings');
    const { source: s } = await startSource();
    let resolved = false;
    const started = s.start().then(() => {
      resolved = true;
    });
    await until('namespaces listed', () => s.status().informers.namespaces.synced);
    await until('bindings list requested', () => api.listRequests('oidcgroupbindings') >= 1);
    assert.equal(resolved, false);
    assert.equal(s.index.ready(), false);
    release();
    await started;
    assert.equal(s.index.ready(), true);
    assert.deepEqual(groupsOf(s, 'a'), ['g']);
  });

  it('lists in pages', async () => {
    api.seed(Array.from({ length: 7 }, (_, i) => binding(`b${i}`, 'a', [`g${i}`])));
    const { source: s } = await startSource({ pageSize: 3 });
    await s.start();
    assert.equal(s.index.bindings().length, 7);
    assert.equal(api.listRequests('oidcgroupbindings'), 3);
  });

  it('recovers from a cut watch without a restart', async () => {
    const { source: s } = await startSource();
    await s.start();
    await until('watches open', () => api.openWatches() === 2);
    const watchesBefore = api.watchRequests('oidcgroupbindings');
    assert.equal(api.cutWatches(), 2);
    api.create(binding('after-cut', 'a', ['g']));
    await until('binding after cut', () => groupsOf(s, 'a').includes('g'));
    assert.ok(api.watchRequests('oidcgroupbindings') > watchesBefore, 'watch re-established');
    assert.equal(s.status().informers.bindings.lists, 1, 'resumed from its resourceVersion, no relist');
    assert.equal(s.status().restarts, 0);
  });

  it('relists after 410 Gone and forgets bindings deleted while disconnected', async () => {
    api.seed([binding('stays', 'a', ['keep']), binding('goes', 'a', ['drop'])]);
    const { source: s } = await startSource();
    await s.start();
    assert.deepEqual(groupsOf(s, 'a'), ['drop', 'keep']);
    await until('watches open', () => api.openWatches() === 2);
    // In one tick, so the client cannot reconnect in between: cut, change, compact.
    api.cutWatches();
    api.delete(binding('goes', 'a', []));
    api.create(binding('new', 'a', ['fresh']));
    api.compact();
    await until('relisted state', () => groupsOf(s, 'a').join() === 'fresh,keep');
    assert.ok(s.status().informers.bindings.lists >= 2, 'a relist happened');
    assert.equal(s.status().restarts, 0);
  });

  it('a relist takes bindings changed while disconnected and keeps the unchanged ones', async () => {
    api.seed([binding('same', 'a', ['keep']), binding('edited', 'a', ['before'], ['web'])]);
    const { source: s } = await startSource();
    await s.start();
    const same = s.index.get('a', 'same');
    await until('watches open', () => api.openWatches() === 2);
    api.cutWatches();
    const edited = api.get(binding('edited', 'a', []))!;
    api.update({ ...edited, spec: { issuer: ISSUER, groups: ['after'], serviceAccounts: ['web'] } });
    api.compact();
    await until('relisted state', () => groupsOf(s, 'a', 'web').join() === 'after');
    assert.ok(s.status().informers.bindings.lists >= 2, 'a relist happened');
    assert.deepEqual(groupsOf(s, 'a'), ['keep']);
    assert.deepEqual(s.index.get('a', 'same'), same);
  });

  it('the watchdog restarts an informer whose watch went silent', async () => {
    const { source: s, lines } = await startSource({ watchdogMs: 300 });
    await s.start();
    await until('watches open', () => api.openWatches() === 2);
    api.pauseWatches();
    api.create(binding('during-stall', 'a', ['g']));
    await until('watchdog relist', () => groupsOf(s, 'a').includes('g'));
    assert.ok(s.status().informers.bindings.restarts >= 1);
    assert.ok(lines.some((l) => l.msg === 'restarting informer (relist)' && l.reason === 'watchdog'));
    api.resumeWatches();
    api.create(binding('after-stall', 'b', ['h']));
    await until('watch works again', () => groupsOf(s, 'b').includes('h'));
  });

  it('bookmarks keep a quiet, healthy watch from being restarted by the watchdog', async () => {
    // Bookmarks every 100 ms (beforeEach) against a 1 s watchdog: a wide margin, not a race.
    const { source: s } = await startSource({ watchdogMs: 1000 });
    await s.start();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(s.status().restarts, 0);
    assert.ok(Date.now() - (s.status().lastEventAt ?? 0) < 1000, 'bookmarks count as signs of life');
  });

  it('resyncs by relisting periodically', async () => {
    const { source: s } = await startSource({ resyncMs: 100 });
    await s.start();
    await until('a resync', () => s.status().informers.bindings.resyncs >= 1 && s.status().informers.bindings.lists >= 2);
    assert.equal(s.status().restarts, 0);
  });

  it('retries a failed first list with backoff', async () => {
    api.injectFault({ resource: 'oidcgroupbindings', watch: false, status: 500, count: 2 });
    api.seed([binding('b', 'a', ['g'])]);
    const { source: s } = await startSource();
    await s.start();
    assert.deepEqual(groupsOf(s, 'a'), ['g']);
    assert.equal(s.status().informers.bindings.reconnects, 2);
  });

  it('stop() before the first sync rejects start()', async () => {
    const release = api.holdLists();
    const { source: s } = await startSource();
    const started = s.start();
    await until('list requested', () => api.listRequests('namespaces') >= 1);
    await s.stop();
    await assert.rejects(started, /stopped before its first sync/);
    release();
  });

  // The type checker cannot see a listPage that drops its options argument: only this shows that
  // both list calls carry the informer's abort signal to client-node.
  it('gives up a hung first page of bindings and a hung continue page of namespaces, closes them, and syncs', async () => {
    api.seed([namespace('a'), namespace('b'), namespace('c'), binding('writers', 'a', ['writers'])]);
    api.injectFault({ resource: 'oidcgroupbindings', watch: false, hang: true });
    api.injectFault({ resource: 'namespaces', watch: false, continued: true, hang: true });
    const { source: s } = await startSource({ pageSize: 2, listPageTimeoutMs: 200 });
    const started = s.start();
    await eventually(() => s.index.ready(), 5000, 'the identity cache synced');
    await started;
    assert.deepEqual(groupsOf(s, 'a'), ['writers']);
    assert.equal(s.status().informers.bindings.reconnects, 1);
    assert.equal(s.status().informers.namespaces.reconnects, 1);
    await until('both hung requests closed on the server side', () => api.hungRequests().closed === 2);
    assert.equal(api.hungRequests().open, 0);
  });
});
