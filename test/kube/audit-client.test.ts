/** The audit's cluster client against the fake API server: paging, and a continue token that expires. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createAuditClient } from '../../src/kube/audit-client.ts';
import type { AuditClient } from '../../src/audit/cluster.ts';

const POD = { apiVersion: 'v1', kind: 'Pod' };

describe('audit client', () => {
  let api: FakeApiServer;
  let dir: string;
  let client: AuditClient;

  before(async () => {
    api = await startFakeApiServer();
    dir = await mkdtemp(join(tmpdir(), 'idgate-audit-client-'));
    api.seed(
      Array.from({ length: 120 }, (_, i) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `pod-${i}`, namespace: `ns-${i % 3}`, uid: `uid-${i}` },
        spec: { containers: [{ name: 'app', image: 'x' }] },
      })),
    );
    client = createAuditClient(loadKubeConfig(await api.writeKubeconfig(dir)));
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists page by page with limit and continue', async () => {
    const before = api.listRequests('pods');
    const pages: number[] = [];
    for await (const page of client.listPages(POD, undefined, 50)) pages.push(page.length);
    assert.deepEqual(pages, [50, 50, 20]);
    assert.equal(api.listRequests('pods') - before, 3);
  });

  it('starts over when the continue token expires (410 Gone) and yields every object once', async () => {
    const names: string[] = [];
    let pages = 0;
    const before = api.listRequests('pods');
    for await (const page of client.listPages(POD, undefined, 50)) {
      names.push(...page.map((p) => p.metadata!.name!));
      if (++pages === 1) {
        // The cluster moves on and etcd compacts: the next page's continue token is now too old.
        api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'moved-on', namespace: 'ns-0' } });
        api.compact();
      }
    }
    assert.equal(names.length, 120);
    assert.equal(new Set(names).size, 120, 'no object twice');
    assert.ok(api.listRequests('pods') - before >= 5, 'the first page, the 410, and a full relist');
  });
});
