/**
 * The fake API server's own behaviour where later tests depend on it: paging, optimistic
 * concurrency, patches, Status bodies, watch semantics (resume, 410 Expired, bookmarks), and
 * compatibility with client-node's typed clients.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { watchEvents } from '../support/watch-events.ts';

const pod = (name: string, namespace: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { containers: [{ name: 'c', image: 'nginx' }] },
});

describe('fake API server', () => {
  let api: FakeApiServer;
  let dir: string;
  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 20 });
    dir = await mkdtemp(join(tmpdir(), 'idgate-fakeapi-'));
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });
  const json = async (path: string, init?: RequestInit) => {
    const res = await fetch(api.url + path, init);
    return { status: res.status, body: (await res.json()) as any };
  };

  it('pages a list with limit and continue, from one snapshot resourceVersion', async () => {
    api.seed(Array.from({ length: 5 }, (_, i) => pod(`p${i}`, 'paging')));
    const before = api.listRequests('pods');
    const first = await json('/api/v1/namespaces/paging/pods?limit=2');
    assert.equal(first.body.kind, 'PodList');
    assert.deepEqual(
      first.body.items.map((p: KubeObject) => p.metadata?.name),
      ['p0', 'p1'],
    );
    assert.ok(first.body.metadata.continue);
    const second = await json(`/api/v1/namespaces/paging/pods?limit=2&continue=${first.body.metadata.continue}`);
    const third = await json(`/api/v1/namespaces/paging/pods?limit=2&continue=${second.body.metadata.continue}`);
    assert.deepEqual(
      third.body.items.map((p: KubeObject) => p.metadata?.name),
      ['p4'],
    );
    assert.equal(third.body.metadata.continue, undefined);
    assert.equal(second.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
    assert.equal(api.listRequests('pods') - before, 3);
    api.create(pod('later', 'paging'));
    api.compact(); // the list's snapshot is now older than the compaction point
    const expired = await json(`/api/v1/namespaces/paging/pods?limit=2&continue=${first.body.metadata.continue}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.body.reason, 'Expired');
  });

  it('lists all namespaces, filters by label selector, and serves cluster-scoped resources', async () => {
    api.seed([pod('a', 'ns1', { app: 'web' }), pod('b', 'ns2', { app: 'db' })]);
    api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns1', labels: { team: 'x' } } });
    const web = await json('/api/v1/pods?labelSelector=app%20in%20(web,api)');
    assert.deepEqual(
      web.body.items.map((p: KubeObject) => p.metadata?.name),
      ['a'],
    );
    const notDb = await json('/api/v1/pods?labelSelector=app!%3Ddb,app');
    assert.ok(notDb.body.items.every((p: KubeObject) => p.metadata?.labels?.app !== 'db'));
    const ns = await json('/api/v1/namespaces/ns1');
    assert.equal(ns.status, 200);
    assert.deepEqual(ns.body.metadata.labels, { team: 'x' });
    assert.equal(ns.body.metadata.namespace, undefined);
  });

  it('answers 409 AlreadyExists, 409 Conflict on a stale PUT, and 404 with Status bodies', async () => {
    const created = api.create(pod('conflict', 'c'));
    const dup = await json('/api/v1/namespaces/c/pods', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(pod('conflict', 'c')),
    });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.kind, 'Status');
    assert.equal(dup.body.reason, 'AlreadyExists');

    api.update({ ...created, metadata: { ...created.metadata, labels: { v: '2' } } });
    const stale = await json('/api/v1/namespaces/c/pods/conflict', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(created),
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
    assert.match(stale.body.message, /the object has been modified/);

    const missing = await json('/api/v1/namespaces/c/pods/nope');
    assert.deepEqual([missing.status, missing.body.reason, missing.body.code], [404, 'NotFound', 404]);
    const unknown = await json('/apis/example.com/v1/widgets');
    assert.equal(unknown.status, 404);
  });

  it('applies merge patches and JSON patches, and bumps the resourceVersion', async () => {
    const created = api.create(pod('patched', 'p', { a: '1' }));
    const merged = await json('/api/v1/namespaces/p/pods/patched', {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { a: null, b: '2' } } }),
    });
    assert.deepEqual(merged.body.metadata.labels, { b: '2' });
    assert.ok(Number(merged.body.metadata.resourceVersion) > Number(created.metadata?.resourceVersion));
    const jp = await json('/api/v1/namespaces/p/pods/patched', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'add', path: '/metadata/labels/c', value: '3' }]),
    });
    assert.deepEqual(jp.body.metadata.labels, { b: '2', c: '3' });
    const bad = await json('/api/v1/namespaces/p/pods/patched', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'test', path: '/metadata/labels/c', value: 'x' }]),
    });
    assert.equal(bad.status, 422);
  });

  it('watches from a resourceVersion, answers a compacted one with a 410 ERROR event, and sends bookmarks', async () => {
    const rv = api.resourceVersion();
    api.create(pod('w1', 'watch'));
    api.delete(pod('w1', 'watch'));
    const events = await watchEvents(`${api.url}/api/v1/namespaces/watch/pods?watch=true&resourceVersion=${rv}`, 2);
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.name]),
      [
        ['ADDED', 'w1'],
        ['DELETED', 'w1'],
      ],
    );

    api.compact();
    const gone = await watchEvents(`${api.url}/api/v1/namespaces/watch/pods?watch=true&resourceVersion=${rv}`, 5);
    assert.equal(gone.length, 1, 'the stream ends after the ERROR event');
    assert.equal(gone[0]?.type, 'ERROR');
    assert.deepEqual([gone[0]?.object.kind, gone[0]?.object.code, gone[0]?.object.reason], ['Status', 410, 'Expired']);

    const marks = await watchEvents(`${api.url}/api/v1/namespaces/watch/pods?watch=true&resourceVersion=${api.resourceVersion()}&allowWatchBookmarks=true`, 1);
    assert.equal(marks[0]?.type, 'BOOKMARK');
    assert.equal(marks[0]?.object.metadata.resourceVersion, String(api.resourceVersion()));
  });

  it('serves discovery', async () => {
    const apps = await json('/apis/apps/v1');
    assert.ok(apps.body.resources.some((r: { name: string; namespaced: boolean }) => r.name === 'deployments' && r.namespaced));
    const groups = await json('/apis');
    assert.ok(groups.body.groups.some((g: { name: string }) => g.name === 'idgate.dev'));
  });

  it('works with client-node typed clients over plain http (create, conflict, patch, get)', async () => {
    const core = loadKubeConfig(await api.writeKubeconfig(dir)).makeApiClient(CoreV1Api);
    const secret = await core.createNamespacedSecret({ namespace: 'idgate-system', body: { metadata: { name: 'tls' }, data: { 'tls.crt': 'eA==' } } });
    assert.equal(secret.metadata?.namespace, 'idgate-system');
    await assert.rejects(
      core.replaceNamespacedSecret({ name: 'tls', namespace: 'idgate-system', body: { ...secret, metadata: { ...secret.metadata, resourceVersion: '1' } } }),
      (err: unknown) => err instanceof ApiException && err.code === 409,
    );
    await core.patchNamespacedSecret(
      { name: 'tls', namespace: 'idgate-system', body: { metadata: { annotations: { rotated: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const read = await core.readNamespacedSecret({ name: 'tls', namespace: 'idgate-system' });
    assert.deepEqual(read.metadata?.annotations, { rotated: 'yes' });
    assert.equal(read.data?.['tls.crt'], 'eA==');
  });
});
