import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERR_KUBECONFIG, KubeConfigError, loadKubeConfig } from '../../src/kube/config.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.ts';

describe('loadKubeConfig', () => {
  let dir = '';
  let api: FakeApiServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-kubeconfig-'));
    api = await startFakeApiServer();
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a kubeconfig file and points at its current cluster', async () => {
    const kc = loadKubeConfig(await api.writeKubeconfig(dir));
    assert.equal(kc.getCurrentCluster()?.server, api.url);
  });

  const rejects = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KubeConfigError);
    assert.equal(err.code, ERR_KUBECONFIG);
    assert.match(err.message, pattern);
    return true;
  });

  it('names the missing file and the flag', () => {
    const path = join(dir, 'nope');
    rejects(() => loadKubeConfig(path), new RegExp(`${path}: no such file \\(check --kubeconfig\\)`));
  });

  it('rejects a kubeconfig without a current context', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    rejects(() => loadKubeConfig(path), /has no current context/);
  });

  it('outside a cluster, says to pass --kubeconfig or --bindings-file', () => {
    rejects(() => loadKubeConfig(undefined, join(dir, 'no-such-root')), /not running inside a cluster.*--kubeconfig FILE, or --bindings-file FILE/);
  });
});
