/**
 * `npm run bench:cluster-scale`: the webhook reading 1k, 10k and 100k OIDCGroupBindings from a
 * cluster (the in-test fake API server, which pages lists of 500 and streams watches as
 * kube-apiserver does) instead of a file: start-up to ready (spawn → `/readyz` 200: the
 * informers' first full list), CPU to ready, RSS at ready and at rest, V8 heap used at rest
 * (`/metrics`), peak RSS, and whether it fits the Deployment's heap at all. Each binding carries
 * the `managedFields` kubectl leaves on it (as the recorded v1.32 answers do): the list pages
 * carry them, however little of each object the informer keeps. Then a relist while serving
 * (watches cut and compacted: 410 Gone), its duration and the peak RSS it leaves.
 *
 *   BENCH_SCALE=1000,10000,100000 BENCH_SETTLE_MS=3000 node bench/cluster-scale.ts
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startFakeApiServer, type FakeApiServer } from '../test/support/fake-apiserver.ts';
import { NODE_OPTIONS, benchCerts, cpuMicros, freePort, get, readyOrExit, rssMb, startWebhook, stop } from './common.ts';

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

/** The webhook's V8 heap in use (live objects and garbage not yet collected), from its process metrics. */
async function heapUsedMb(port: number, ca: string): Promise<number | string> {
  const metrics = await get(port, '/metrics', ca).then(
    (r) => r.text,
    () => '',
  );
  const bytes = /^idgate_nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1];
  return bytes ? Math.round(Number(bytes) / 1e6) : '?';
}

/**
 * A relist while serving, as after a long disconnection: the watches are cut and their
 * resourceVersions compacted away, so the re-watch gets 410 Gone and the webhook lists every
 * binding again (its informer backs off 1 s before the re-watch and before the relist). Returns
 * the time until the bindings watch is open again after a full list, or how the webhook exited.
 */
async function relist(api: FakeApiServer, webhook: ChildProcess, pages: number): Promise<string> {
  const before = api.listRequests('oidcgroupbindings');
  const started = performance.now();
  api.cutWatches();
  // A change elsewhere moves the resourceVersion past the one the webhook last saw, which the compaction then expires.
  api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `relist-${before}`, namespace: 'default' } });
  api.compact();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (api.listRequests('oidcgroupbindings') < before + pages || api.openWatches('oidcgroupbindings') === 0) {
    if (webhook.exitCode !== null || webhook.signalCode !== null) return `exited (${webhook.signalCode ?? webhook.exitCode})`;
    if (Date.now() > deadline) return 'not done';
    await new Promise((r) => setTimeout(r, 20));
  }
  return String(Math.round(performance.now() - started));
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
    const atRest = await rssMb(webhook.pid!);
    const heap = await heapUsedMb(port, ca);
    const peak = await rssMb(webhook.pid!, 'VmHWM');
    const relisted = await relist(api, webhook, Math.ceil(count / 500));
    const after = webhook.exitCode === null && webhook.signalCode === null ? await rssMb(webhook.pid!, 'VmHWM') : '';
    rows.push(`| ${count} | ${readyMs} | ${readyCpuMs} | ${atReady} | ${atRest} | ${heap} | ${peak} | ${relisted} | ${after} |`);
  } else {
    rows.push(`| ${count} | ${ready} | | | | | | | |`);
  }
  console.error(`${count} bindings from the cluster: ${ready}`);
  await stop(webhook);
  await api.close();
}

console.log(`\nidgate cluster scale: bindings listed from a fake API server (pages of 500); NODE_OPTIONS ${NODE_OPTIONS}\n`);
console.log(
  '| bindings | start-up to ready ms | CPU to ready ms | RSS at ready MB | RSS at rest MB | heap used at rest MB | peak RSS MB | relist after 410 ms | peak RSS after relist MB |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
