/**
 * The resilient informer (src/kube/informer.ts) against the fake API server, through client-node:
 * lists streamed page by page into a sink committed at the end, and the watch's resourceVersion
 * kept across clean closes, BOOKMARKs, errors and 410 Gone, and list pages that are never
 * answered aborted (by their timeout, a watchdog restart or stop) with their connection closed.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { pino } from 'pino';
import { eventually } from '../support/eventually.ts';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createResilientInformer, type InformerHandlers, type ResilientInformer, type ResilientInformerOptions } from '../../src/kube/informer.ts';

const configMap = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'a' },
  data,
});
const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `c${from + i}`);

/** One list the informer made: the names of each page, the committed view and list requests seen at each page, whether it was committed. */
interface ListRecord {
  readonly pages: string[][];
  readonly viewAtPage: string[][];
  readonly requestsAtPage: number[];
  committed: boolean;
}

/** Handlers keeping a view (name → data.v) that a list replaces only at commit, and recording every list. */
function recorder(api: FakeApiServer) {
  const view = new Map<string, string | undefined>();
  const lists: ListRecord[] = [];
  const viewNames = () => [...view.keys()].sort();
  const handlers: InformerHandlers<V1ConfigMap> = {
    list() {
      const record: ListRecord = { pages: [], viewAtPage: [], requestsAtPage: [], committed: false };
      lists.push(record);
      const staged: V1ConfigMap[] = [];
      return {
        page(items) {
          record.pages.push(items.map((c) => c.metadata?.name ?? ''));
          record.viewAtPage.push(viewNames());
          record.requestsAtPage.push(api.listRequests('configmaps'));
          staged.push(...items);
        },
        commit() {
          record.committed = true;
          view.clear();
          for (const c of staged) view.set(c.metadata?.name ?? '', c.data?.v);
        },
      };
    },
    upsert: (c) => view.set(c.metadata?.name ?? '', c.data?.v),
    remove: (c) => view.delete(c.metadata?.name ?? ''),
  };
  return { handlers, lists, view, viewNames };
}

const until = (what: string, cond: () => boolean) => eventually(cond, 5000, what);

describe('resilient informer against the fake API server', () => {
  let api: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  let informer: ResilientInformer | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-informer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 50 });
    kubeconfig = await api.writeKubeconfig(dir);
  });
  afterEach(async () => {
    await informer?.stop();
    informer = undefined;
    await api.close();
  });

  const startInformer = (opts: Partial<ResilientInformerOptions<V1ConfigMap>> = {}) => {
    const kubeConfig = loadKubeConfig(kubeconfig);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const rec = recorder(api);
    informer = createResilientInformer<V1ConfigMap>({
      resource: 'configmaps',
      kubeConfig,
      path: '/api/v1/configmaps',
      listPage: (page, requestOptions) => core.listConfigMapForAllNamespaces(page, requestOptions),
      handlers: rec.handlers,
      logger: pino({ level: 'silent' }),
      backoffMs: { initial: 50, max: 200 },
      pageSize: 2,
      ...opts,
    });
    return { informer, ...rec, started: informer.start() };
  };
  const watchRequests = () => api.requests.filter((r) => r.watch && r.resource === '/v1/configmaps');

  it('hands a list to the handlers page by page, as each page arrives, and switches the view only at commit', async () => {
    api.seed(names(5).map((n) => configMap(n)));
    const { lists, viewNames, started, informer: inf } = startInformer();
    await started;
    assert.equal(lists.length, 1);
    assert.deepEqual(lists[0]!.pages, [['c0', 'c1'], ['c2', 'c3'], ['c4']]);
    assert.deepEqual(lists[0]!.requestsAtPage, [1, 2, 3], 'each page reached the handler before the next was requested');
    assert.deepEqual(lists[0]!.viewAtPage, [[], [], []], 'nothing applied before the commit');
    assert.equal(lists[0]!.committed, true);
    assert.deepEqual(viewNames(), names(5));
    assert.equal(inf.status().lists, 1);
    assert.equal(inf.status().synced, true);
  });

  it('drops a list that fails on a later page (500): the old view stays until a complete list commits', async () => {
    api.seed(names(5).map((n) => configMap(n)));
    const { lists, viewNames, started, informer: inf } = startInformer();
    await started;
    await until('watch open', () => api.openWatches('configmaps') === 1);
    // The next list fails on its second page, once.
    api.injectFault({ resource: 'configmaps', watch: false, continued: true, status: 500 });
    api.cutWatches();
    api.delete(configMap('c0'));
    api.create(configMap('c9'));
    api.compact();
    await until('a complete relist', () => lists.length === 3 && lists[2]!.committed);
    assert.deepEqual(lists[1]!.pages, [['c1', 'c2']], 'the failed list got its first page only');
    assert.equal(lists[1]!.committed, false);
    assert.deepEqual(lists[2]!.viewAtPage, [names(5), names(5), names(5)], 'the old view served until the commit');
    assert.deepEqual(viewNames(), ['c1', 'c2', 'c3', 'c4', 'c9']);
    assert.equal(inf.status().reconnects, 2, 'the cut watch and the failed list');
    assert.equal(inf.status().lists, 2);
  });

  it('restarts a list from its first page when its continue token expired (410)', async () => {
    api.seed(names(5).map((n) => configMap(n)));
    const releaseFirst = api.holdLists('configmaps');
    const { lists, viewNames, started, informer: inf } = startInformer();
    await until('first page requested', () => api.listRequests('configmaps') === 1);
    // Let the first page through and hold the second, then compact the snapshot it continues.
    const releaseSecond = api.holdLists('configmaps');
    releaseFirst();
    await until('second page requested', () => api.listRequests('configmaps') === 2);
    api.delete(configMap('c0'));
    api.create(configMap('c9'));
    api.compact();
    releaseSecond();
    await started;
    const listQueries = api.requests.filter((r) => !r.watch && r.resource === '/v1/configmaps').map((r) => r.query.continue !== undefined);
    assert.deepEqual(listQueries.slice(0, 3), [false, true, false], 'the list started again without a continue token');
    assert.deepEqual(
      lists.map((l) => l.committed),
      [false, true],
    );
    assert.deepEqual(lists[0]!.pages, [['c0', 'c1']]);
    assert.deepEqual(viewNames(), ['c1', 'c2', 'c3', 'c4', 'c9']);
    assert.equal(inf.status().lists, 1);
    assert.equal(inf.status().reconnects, 0, 'an expired token is not a failure');
  });

  // What a real apiserver answers a watch from a compacted resourceVersion: a 200 stream with one
  // ERROR event holding a 410 Expired Status; and the plain HTTP 410 a client must handle too.
  const gone: [string, () => void][] = [
    ['a 410 ERROR event', () => api.compact()],
    ['an HTTP 410 answer', () => api.injectFault({ resource: 'configmaps', watch: true, status: 410 })],
  ];
  for (const [what, expire] of gone) {
    it(`relists after ${what} to a watch, and forgets objects deleted meanwhile`, async () => {
      api.seed(names(3).map((n) => configMap(n)));
      const { viewNames, started, informer: inf } = startInformer();
      await started;
      await until('watch open', () => api.openWatches('configmaps') === 1);
      // In one tick, so the client cannot re-watch in between: cut, delete, expire.
      api.cutWatches();
      api.delete(configMap('c1'));
      expire();
      await until('relisted', () => inf.status().lists === 2);
      assert.deepEqual(viewNames(), ['c0', 'c2']);
      assert.equal(inf.status().restarts, 0);
      api.create(configMap('c7'));
      await until('watching again', () => viewNames().includes('c7'));
    });
  }

  it('re-watches from the resourceVersion of the last BOOKMARK', async () => {
    api.seed(names(2).map((n) => configMap(n)));
    const { started, informer: inf } = startInformer();
    await started;
    await until('watch open', () => api.openWatches('configmaps') === 1);
    const listedAt = watchRequests()[0]!.query.resourceVersion;
    // Another resource moves the resourceVersion on; only a BOOKMARK can tell this watch about it.
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'a' } });
    const bookmarkedAt = String(api.resourceVersion());
    const sent = api.bookmarksSent('configmaps');
    await until('a bookmark after the change', () => api.bookmarksSent('configmaps') > sent);
    api.closeWatches();
    await until('watching again', () => watchRequests().length === 2);
    assert.notEqual(listedAt, bookmarkedAt);
    assert.equal(watchRequests()[1]!.query.resourceVersion, bookmarkedAt);
    assert.equal(watchRequests()[1]!.query.allowWatchBookmarks, 'true');
    assert.equal(inf.status().lists, 1);
  });

  it('resumes a cleanly closed watch from its resourceVersion, without a relist', async () => {
    api.seed(names(2).map((n) => configMap(n)));
    const { viewNames, started, informer: inf } = startInformer();
    await started;
    await until('watch open', () => api.openWatches('configmaps') === 1);
    api.create(configMap('c5'));
    await until('event seen', () => viewNames().includes('c5'));
    const seenAt = String(api.resourceVersion());
    api.closeWatches();
    await until('watching again', () => watchRequests().length >= 2);
    const rewatchedFrom = Number(watchRequests()[1]!.query.resourceVersion);
    assert.ok(rewatchedFrom >= Number(seenAt), 'from the last event (or a later bookmark), not from the list');
    api.delete(configMap('c0'));
    await until('delete seen', () => !viewNames().includes('c0'));
    assert.equal(inf.status().lists, 1);
    assert.equal(inf.status().reconnects, 0);
  });

  it('resumes after a watch error with backoff, from its resourceVersion', async () => {
    const { viewNames, started, informer: inf } = startInformer();
    await started;
    await until('watch open', () => api.openWatches('configmaps') === 1);
    api.injectFault({ resource: 'configmaps', watch: true, status: 500, count: 2 });
    api.cutWatches();
    api.create(configMap('c3'));
    await until('event after errors', () => viewNames().includes('c3'));
    assert.equal(inf.status().reconnects, 3, 'the cut and the two 500s');
    assert.equal(inf.status().lists, 1);
  });

  it('a resync does not interrupt a list in progress', async () => {
    api.seed(names(3).map((n) => configMap(n)));
    const release = api.holdLists('configmaps');
    const { lists, started } = startInformer({ resyncMs: 50 });
    await until('list requested', () => api.listRequests('configmaps') === 1);
    // Several resync periods while the first page is held: none may start another list.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(lists.length, 1);
    release();
    await started;
    assert.equal(lists[0]!.committed, true);
  });

  /** A logger keeping every line, to check what a failure was logged as. */
  const capture = () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    return { logger, lines };
  };
  const hangs = [
    ['its first page', false],
    ['a continue page', true],
  ] as const;
  for (const [what, continued] of hangs) {
    it(`abandons ${what} never answered after listPageTimeoutMs, closes its connection, and syncs on the next attempt`, async () => {
      api.seed(names(5).map((n) => configMap(n)));
      api.injectFault({ resource: 'configmaps', watch: false, continued, hang: true });
      const { logger, lines } = capture();
      const { lists, viewNames, started, informer: inf } = startInformer({ listPageTimeoutMs: 200, logger });
      await until('synced on a later attempt', () => inf.status().synced);
      await started;
      assert.deepEqual(viewNames(), names(5));
      assert.equal(inf.status().synced, true);
      assert.deepEqual(
        lists.map((l) => l.committed),
        [false, true],
        'the list that hung is dropped',
      );
      assert.deepEqual(lists[0]!.pages, continued ? [['c0', 'c1']] : []);
      assert.equal(inf.status().reconnects, 1, 'a list failure with backoff (an expired continue token counts none)');
      await until('the hung request closed on the server side', () => api.hungRequests().closed === 1);
      assert.equal(api.hungRequests().open, 0);
      const failure = lines.find((l) => l.msg === 'list/watch failed; resuming');
      assert.equal(failure?.resource, 'configmaps');
      assert.equal(failure?.call, 'list');
      assert.match(String(failure?.err), /^list page not answered within 200 ms/);
    });
  }

  it("a watchdog restart aborts the superseded loop's list page in flight", async () => {
    api.seed(names(3).map((n) => configMap(n)));
    api.injectFault({ resource: 'configmaps', watch: false, hang: true });
    const { viewNames, started, informer: inf } = startInformer({ watchdogMs: 200 });
    await until('synced after the restart', () => inf.status().synced);
    await started;
    assert.deepEqual(viewNames(), names(3));
    assert.ok(inf.status().restarts >= 1);
    assert.equal(inf.status().reconnects, 0, 'the superseded list is not a failure');
    await until('the hung request closed on the server side', () => api.hungRequests().closed === 1);
  });

  it('stop() aborts a list page in flight', async () => {
    api.injectFault({ resource: 'configmaps', watch: false, hang: true });
    const { started, informer: inf } = startInformer();
    await until('the list page hangs', () => api.hungRequests().open === 1);
    await inf.stop();
    await assert.rejects(started, /stopped before its first sync/);
    await until('the hung request closed on the server side', () => api.hungRequests().closed === 1);
  });
});
