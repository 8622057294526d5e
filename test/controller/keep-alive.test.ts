/** The controllers' API calls reuse connections (client-node 2.0.1 would open one per request). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApiServer } from '../support/fake-apiserver.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createPodClient } from '../../src/kube/controller-clients.ts';
import { reuseConnections } from '../../src/kube/keep-alive.ts';
import { labelledPod } from './harness.ts';

describe('reuseConnections', () => {
  it('sends 20 requests over far fewer connections than 20', async () => {
    const api = await startFakeApiServer();
    for (let i = 0; i < 20; i++) api.create(labelledPod('p', `a-${i}`, 'api', [], []));
    // A TCP relay in front of the fake counts connections.
    let connections = 0;
    const target = new URL(api.url);
    const relay = createServer((socket) => {
      connections++;
      const upstream = connect(Number(target.port), '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const dir = await mkdtemp(join(tmpdir(), 'idgate-ka-'));
    const path = await api.writeKubeconfig(dir);
    await writeFile(path, (await readFile(path, 'utf8')).replace(api.url, `http://127.0.0.1:${(relay.address() as AddressInfo).port}`));
    try {
      const count = async (kc: ReturnType<typeof loadKubeConfig>) => {
        connections = 0;
        const pods = createPodClient(kc);
        for (let i = 0; i < 20; i++) await pods.get('p', `a-${i}`);
        return connections;
      };
      const plain = await count(loadKubeConfig(path));
      const pooled = await count(reuseConnections(loadKubeConfig(path)));
      console.log(`20 sequential GETs: ${plain} connections without, ${pooled} with reuseConnections`);
      assert.ok(pooled <= 2, `pooled used ${pooled} connections`);
    } finally {
      relay.close();
      await api.close();
    }
  });
});
