/**
 * `npm run bench:relabel`: revocation in seconds (docs/design.md#relabel). 1,000 running Pods of one
 * ServiceAccount, one binding change, and: the time from the change (written to the API server)
 * until the last Pod is patched, the requests idgate sent for it, and the admission p99 of the
 * same webhook process measured at a fixed rate during the relabel and while idle, alternating.
 *
 * Three processes, as in a cluster: this driver (load generator), the in-test fake API server
 * (`bench/relabel.ts apiserver`, its own process so its CPU does not disturb the driver), and
 * `idgate webhook` from source with its controllers, talking to the fake through client-node.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PODS = Number(process.env.BENCH_PODS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Admission requests per second while measuring (the webhook bench's fixed rate). */
const RATE = Number(process.env.BENCH_RATE ?? 200);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 5000);
const ISSUER = 'https://keycloak.example.com/realms/prod';
const BOTH = ['ledger-readers', 'payments-writers'];
const REVOKED = ['ledger-readers'];

type Msg = { cmd: 'seed' } | { cmd: 'change'; groups: string[] } | { cmd: 'settled'; groups: string[] } | { cmd: 'leader' };

/* ---------------------------------------------------------------- the API server process */

async function apiserverRole(): Promise<void> {
  const { startFakeApiServer } = await import('../test/support/fake-apiserver.ts');
  const { identityAnnotations, identityLabels } = await import('../src/mutate/identity.ts');
  const api = await startFakeApiServer();
  const dir = await mkdtemp(join(tmpdir(), 'idgate-bench-relabel-'));
  const kubeconfig = await api.writeKubeconfig(dir);
  // Arrival time of every request (the fake records what, not when).
  const arrivals: number[] = [];
  const requests = api.requests as unknown as { push: (...xs: unknown[]) => number };
  const push = requests.push.bind(requests);
  requests.push = (...xs) => {
    arrivals.push(performance.now());
    return push(...xs);
  };
  let changedAt = 0;
  let mark = 0;
  const bindingRef = { apiVersion: 'idgate.dev/v1alpha1', kind: 'OIDCGroupBinding', metadata: { namespace: 'payments', name: 'writers' } };
  const groupsOf = (labels: Record<string, string> | undefined) =>
    Object.keys(labels ?? {})
      .filter((k) => k.startsWith('group.idgate.dev/'))
      .map((k) => k.slice(17))
      .sort()
      .join();

  process.on('message', (m: Msg) => {
    if (m.cmd === 'seed') {
      api.seed([
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { 'idgate.dev/inject': 'enabled' } } },
        { ...bindingRef, spec: { issuer: ISSUER, groups: BOTH, serviceAccounts: ['api'] } },
      ]);
      for (let i = 0; i < PODS; i++) {
        api.create({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `api-${i}`,
            namespace: 'payments',
            labels: { app: 'api', ...identityLabels('api', BOTH) },
            annotations: identityAnnotations({ groups: BOTH, bindings: ['payments/writers'] }, '0.1.0'),
          },
          spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'app:1' }] },
          status: { phase: 'Running' },
        });
      }
      process.send!({ kubeconfig });
    } else if (m.cmd === 'leader') {
      const lease = api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: 'idgate-system', name: 'idgate-controller' } });
      process.send!({ holder: (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? '' });
    } else if (m.cmd === 'change') {
      const binding = api.get(bindingRef)!;
      mark = api.requests.length;
      changedAt = performance.now();
      api.update({ ...binding, spec: { ...(binding.spec as object), groups: m.groups } });
      process.send!({ ok: true });
    } else if (m.cmd === 'settled') {
      const want = [...m.groups].sort().join();
      const pods = api.list('v1', 'Pod', 'payments');
      const right = pods.filter((p) => groupsOf(p.metadata?.labels) === want).length;
      const since = api.requests.slice(mark);
      const counts: Record<string, number> = {};
      let lastPatch = changedAt;
      since.forEach((r, i) => {
        const key = `${r.method}${r.watch ? ' watch' : ''} ${r.resource?.split('/').pop() ?? r.path}`;
        counts[key] = (counts[key] ?? 0) + 1;
        if (r.method === 'PATCH' && r.resource === '/v1/pods') lastPatch = arrivals[mark + i]!;
      });
      process.send!({ right, total: pods.length, lastPatchMs: lastPatch - changedAt, counts });
    }
  });
  process.send!({ ready: true });
}

/* ---------------------------------------------------------------- the driver */

function ask<T>(child: ChildProcess, msg: Msg): Promise<T> {
  const answer = once(child, 'message').then(([m]) => m as T);
  child.send(msg);
  return answer;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Open-loop fixed-rate admission load (as bench/run.ts): latencies of requests sent within [from, to). */
async function fixedRate(port: number, ca: string, body: string, ms: number): Promise<{ sentAt: number; ms: number }[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const samples: { sentAt: number; ms: number }[] = [];
  const total = Math.round((RATE * ms) / 1000);
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      new Promise<void>((resolve) => {
        const sent = performance.now();
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/mutate/pods',
            method: 'POST',
            agent,
            ca,
            servername: 'localhost',
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) samples.push({ sentAt: sent - start, ms: performance.now() - sent });
              resolve();
            });
          },
        );
        req.on('error', () => resolve());
        req.end(body);
      }),
    );
  }
  await Promise.all(inflight);
  agent.destroy();
  return samples;
}

/** CPU time a process has used (user + system), ms, from /proc (clock ticks of 10 ms, USER_HZ 100). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const p99 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.floor(0.99 * s.length))]! * 10) / 10;
};

async function main(): Promise<void> {
  const { createCA, issueCertificate } = await import('../src/certs/generate.ts');
  const { writeCertFiles } = await import('../src/certs/files.ts');
  const dir = await mkdtemp(join(tmpdir(), 'idgate-bench-relabel-'));
  const ca = createCA();
  const leaf = issueCertificate(ca, { commonName: 'localhost', hosts: ['localhost', '127.0.0.1'], days: 1, usage: 'server' });
  await writeCertFiles(dir, { ca: ca.cert, cert: leaf.cert, key: leaf.key });

  const apiserver = fork(fileURLToPath(import.meta.url), ['apiserver'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(apiserver, 'message');
  const { kubeconfig } = await ask<{ kubeconfig: string }>(apiserver, { cmd: 'seed' });

  const port = await freePort();
  // The webhook logs to a file, as a container runtime drains stdout: a pipe this busy driver
  // read late would fill, and pino's synchronous writes would then stall the webhook itself.
  const logFile = join(dir, 'webhook.log');
  const log = await open(logFile, 'w');
  // From source (Node strips the types), with the Deployment's heap settings and log level.
  const webhook = spawn(
    process.execPath,
    [
      'src/cli/main.ts',
      'webhook',
      '--config',
      'examples/baseline.yaml',
      '--kubeconfig',
      kubeconfig,
      '--tls-dir',
      dir,
      '--listen',
      `127.0.0.1:${port}`,
      '--namespace',
      'idgate-system',
      '--log-level',
      'info',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', log.fd, 'inherit'],
      env: { ...process.env, NODE_OPTIONS: `--max-old-space-size=128 --max-semi-space-size=16 ${process.env.BENCH_WEBHOOK_NODE_OPTIONS ?? ''}` },
    },
  );
  const batches = async () =>
    (await readFile(logFile, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"relabelled Pods"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  const deadline = Date.now() + 30_000;
  while ((await ask<{ holder: string }>(apiserver, { cmd: 'leader' })).holder === '') {
    if (Date.now() > deadline) throw new Error('the webhook never took the Lease');
    await new Promise((r) => setTimeout(r, 100));
  }
  const body = await readFile(join(ROOT, 'examples/reviews/pod-create.json'), 'utf8');
  await fixedRate(port, ca.cert, body, 2000); // warm-up

  const { loadavg } = await import('node:os');
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${(await import('node:os')).cpus().length} CPUs`,
  );
  console.log(`relabel bench: ${PODS} Pods, ${ROUNDS} rounds, admission at ${RATE} req/s (POST /mutate/pods) for ${WINDOW_MS} ms per phase`);
  const rows: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cpu0 = await cpuMs(webhook.pid!);
    const api0 = await cpuMs(apiserver.pid!);
    const idle = await fixedRate(port, ca.cert, body, WINDOW_MS);
    const cpu1 = await cpuMs(webhook.pid!);
    const api1 = await cpuMs(apiserver.pid!);
    const target = round % 2 === 0 ? REVOKED : BOTH;
    const loadDone = fixedRate(port, ca.cert, body, WINDOW_MS);
    const started = performance.now();
    await ask(apiserver, { cmd: 'change', groups: target });
    let status: { right: number; total: number; lastPatchMs: number; counts: Record<string, number> };
    for (;;) {
      status = await ask(apiserver, { cmd: 'settled', groups: target });
      if (status.right === status.total || performance.now() - started > 30_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const during = await loadDone;
    const cpu2 = await cpuMs(webhook.pid!);
    const api2 = await cpuMs(apiserver.pid!);
    const inWindow = during.filter((s) => s.sentAt <= status.lastPatchMs).map((s) => s.ms);
    const batch = (await batches()).at(-1);
    rows.push(
      [
        target === REVOKED ? 'revoke' : 'grant ',
        `${status.right}/${status.total} right`,
        `last Pod patched ${(status.lastPatchMs / 1000).toFixed(2)} s after the change`,
        `(batch ${batch?.ms ?? '?'} ms)`,
        `requests ${Object.entries(status.counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        `webhook CPU ${cpu1 - cpu0} ms idle, ${cpu2 - cpu1} ms with the relabel (same admission load); fake API server CPU ${api1 - api0} → ${api2 - api1} ms`,
        `admission p99 idle ${p99(idle.map((s) => s.ms))} ms, during relabel ${p99(inWindow)} ms (n=${inWindow.length}), whole phase ${p99(during.map((s) => s.ms))} ms`,
      ].join(' | '),
    );
    console.log(rows.at(-1));
  }
  webhook.kill('SIGTERM');
  apiserver.kill('SIGTERM');
  await Promise.all([once(webhook, 'exit'), once(apiserver, 'exit')]);
  await log.close();
}

if (process.argv[2] === 'apiserver') await apiserverRole();
else await main();
