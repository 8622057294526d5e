import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delimiter } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ERR_KUBECONFIG, KubeConfigError, loadKubeConfig, resolveKubeConfig } from '../../src/kube/config.ts';
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

  const rejects = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (err: unknown) => {
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

/** A kubeconfig with one context per `[context, server]`, the first current unless `current` says otherwise. */
const kubeconfigText = (contexts: Array<[string, string]>, current = contexts[0]?.[0]): string =>
  [
    'apiVersion: v1',
    'kind: Config',
    ...(current ? [`current-context: ${current}`] : []),
    'clusters:',
    ...contexts.map(([n, server]) => `- name: ${n}\n  cluster: { server: "${server}" }`),
    'users:',
    '- name: u',
    '  user: { token: t }',
    'contexts:',
    ...contexts.map(([n]) => `- name: ${n}\n  context: { cluster: ${n}, user: u }`),
    '',
  ].join('\n');

describe('resolveKubeConfig (as kubectl finds a cluster)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-resolve-'));
    await writeFile(
      join(dir, 'a'),
      kubeconfigText([
        ['a', 'https://a.example'],
        ['shared', 'https://from-a.example'],
      ]),
    );
    await writeFile(
      join(dir, 'b'),
      kubeconfigText([
        ['b', 'https://b.example'],
        ['shared', 'https://from-b.example'],
      ]),
    );
    await mkdir(join(dir, 'home', '.kube'), { recursive: true });
    await writeFile(join(dir, 'home', '.kube', 'config'), kubeconfigText([['home', 'https://home.example']]));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const server = (lookup: Parameters<typeof resolveKubeConfig>[0]) => resolveKubeConfig(lookup).getCurrentCluster()?.server;
  const cases: Array<{ name: string; lookup: () => Parameters<typeof resolveKubeConfig>[0]; server?: string; error?: RegExp }> = [
    {
      name: '--kubeconfig beats $KUBECONFIG and home',
      lookup: () => ({ file: join(dir, 'b'), kubeconfigEnv: join(dir, 'a'), home: join(dir, 'home') }),
      server: 'https://b.example',
    },
    { name: '$KUBECONFIG beats home', lookup: () => ({ kubeconfigEnv: join(dir, 'a'), home: join(dir, 'home') }), server: 'https://a.example' },
    {
      name: '$KUBECONFIG lists merge, the first current-context wins',
      lookup: () => ({ kubeconfigEnv: [join(dir, 'b'), join(dir, 'a')].join(delimiter) }),
      server: 'https://b.example',
    },
    {
      name: "a name two files share keeps the first file's entry",
      lookup: () => ({ kubeconfigEnv: [join(dir, 'b'), join(dir, 'a')].join(delimiter), context: 'shared' }),
      server: 'https://from-b.example',
    },
    {
      name: 'missing files of $KUBECONFIG are skipped',
      lookup: () => ({ kubeconfigEnv: [join(dir, 'nope'), join(dir, 'a')].join(delimiter), context: 'b' }),
      error: /--context b: no such context \(the kubeconfig has: a, shared\)/,
    },
    {
      name: 'a $KUBECONFIG of only missing files is an error',
      lookup: () => ({ kubeconfigEnv: join(dir, 'nope'), home: join(dir, 'home') }),
      error: /\$KUBECONFIG names no file that exists/,
    },
    {
      name: 'an empty $KUBECONFIG falls through to ~/.kube/config',
      lookup: () => ({ kubeconfigEnv: '', home: join(dir, 'home') }),
      server: 'https://home.example',
    },
    { name: '--context picks another context', lookup: () => ({ file: join(dir, 'a'), context: 'shared' }), server: 'https://from-a.example' },
    {
      name: 'nothing found names every place looked',
      lookup: () => ({ home: join(dir, 'nohome'), inClusterPathPrefix: join(dir, 'no-root') }),
      error: /no cluster found: --kubeconfig not given, \$KUBECONFIG not set, no .*nohome.*not inside a cluster/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error)
        assert.throws(
          () => server(c.lookup()),
          (err: unknown) => err instanceof KubeConfigError && c.error!.test(err.message),
        );
      else assert.equal(server(c.lookup()), c.server);
    });
  }
});
