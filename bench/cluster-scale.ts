/**
 * `npm run bench:cluster-scale`: the webhook reading 1k, 10k and 100k OIDCGroupBindings from a
 * cluster (the in-test fake API server, which pages lists of 500 and streams watches as
 * kube-apiserver does) instead of a file: start-up to ready (spawn → `/readyz` 200: the
 * informers' first full list), CPU to ready, RSS at ready and at rest, and whether it fits the
 * Deployment's heap at all. Each binding carries the `managedFields` kubectl leaves on it (as the
 * recorded v1.32 answers do), since client-node's informer cache keeps every object whole.
 *
 *   BENCH_SCALE=1000,10000,100000 BENCH_SETTLE_MS=3000 node bench/cluster-scale.ts
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApiServer } from '../test/support/fake-apiserver.ts';
import { NODE_OPTIONS, benchCerts, cpuMicros, freePort, readyOrExit, rssMb, startWebhook, stop } from './common.ts';

const COUNTS = (process.env.BENCH_SCALE ?? '1000,10000,100000').split(',').map(Number);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 3000);
const READY_TIMEOUT_MS = Number(process.env.BENCH_READY_TIMEOUT_MS ?? 300_000);
const NAMESPACES = 100;

/** A binding as `kubectl create` leaves it (metadata.managedFields included). */
function binding(i: number) {
  const namespace = `team-${i % NAMESPACES}`;
  return {
    apiVersion: 'idgate.dev/v1alpha1',
    kind: 'OIDCGroupBinding',
    metadata: {
      name: `binding-${i}`,
      namespace,
      managedFields: [
        {
          apiVersion: 'idgate.dev/v1alpha1',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { '.': {}, 'f:groups': {}, 'f:issuer': {}, 'f:serviceAccounts': {} } },
          manager: 'kubectl-create',
          operation: 'Update',
          time: '2026-11-30T12:28:01Z',
        },
      ],
    },
    spec: { issuer: 'https://keycloak.example.com/realms/prod', groups: [`group-${i}-a`, `group-${i}-b`], serviceAccounts: [`sa-${i}`] },
  };
}

const { dir, ca } = await benchCerts();
const rows: string[] = [];
for (const count of COUNTS) {
  const api = await startFakeApiServer();
  api.seed(
    Array.from({ length: NAMESPACES }, (_, n) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: `team-${n}`, labels: { 'idgate.dev/inject': 'enabled' } },
    })),
  );
  api.seed(Array.from({ length: count }, (_, i) => binding(i)));
  const kubeconfig = await api.writeKubeconfig(await mkdtemp(join(tmpdir(), 'idgate-cluster-scale-')));
  const port = await freePort();
  const started = performance.now();
  const webhook = startWebhook({ port, certDir: dir, extraArgs: ['--kubeconfig', kubeconfig, '--controllers', 'none'] });
  const ready = await readyOrExit(webhook, port, ca, READY_TIMEOUT_MS);
  if (ready === 'ready') {
    const readyMs = Math.round(performance.now() - started);
    const readyCpuMs = Math.round((await cpuMicros(webhook.pid!)) / 1000);
    const atReady = await rssMb(webhook.pid!);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    rows.push(`| ${count} | ${readyMs} | ${readyCpuMs} | ${atReady} | ${await rssMb(webhook.pid!)} | ${await rssMb(webhook.pid!, 'VmHWM')} |`);
  } else {
    rows.push(`| ${count} | ${ready} | | | | |`);
  }
  console.error(`${count} bindings from the cluster: ${ready}`);
  await stop(webhook);
  await api.close();
}

console.log(`\nidgate cluster scale: bindings listed from a fake API server (pages of 500); NODE_OPTIONS ${NODE_OPTIONS}\n`);
console.log('| bindings | start-up to ready ms | CPU to ready ms | RSS at ready MB | RSS at rest MB | peak RSS MB |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
