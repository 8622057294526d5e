/**
 * The exit-code contract of docs/design.md#command-line, for every subcommand, in one table:
 * 0 success, 1 violations found (audit, check), 2 a usage or configuration error whose message
 * names the flag, or the file and line, at fault. Each row runs the real program; that every
 * error class's code is catalogued is test/errors.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../support/cli.ts';
import { makeCertDir } from '../support/tls.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.ts';

/** What the rows need: files written once, a fake cluster, a port held by someone else. */
interface Fixtures {
  dir: string;
  certs: string;
  badBaseline: string;
  badBindings: string;
  kubeconfig: string;
  unreachable: string;
  busyPort: number;
}

interface Row {
  readonly name: string;
  readonly args: (f: Fixtures) => string[];
  readonly exit: 0 | 1 | 2;
  /** What stderr must name (the flag, or the file and line); every exit-2 row has one. */
  readonly stderr?: (f: Fixtures) => RegExp;
  readonly input?: string;
  /** A long-running subcommand: started, its ready log line awaited, then sent SIGTERM. */
  readonly ready?: string;
}

const EXAMPLES = ['--config', 'examples/baseline.yaml', '--bindings-file', 'examples/bindings.yaml'];
const PROXY = ['--upstream', 'http://127.0.0.1:9', '--issuer', 'https://issuer.example', '--audience', 'api'];
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const named = (pattern: RegExp) => () => pattern;

const ROWS: Record<string, Row[]> = {
  webhook: [
    {
      name: 'serves, then exits 0 on SIGTERM',
      args: (f) => ['webhook', '--listen', '127.0.0.1:0', '--tls-dir', f.certs, ...EXAMPLES],
      exit: 0,
      ready: 'webhook listening',
    },
    { name: 'unknown flag', args: () => ['webhook', '--no-such-flag'], exit: 2, stderr: named(/--no-such-flag/) },
    { name: 'bad --listen', args: () => ['webhook', '--listen', 'nowhere'], exit: 2, stderr: named(/--listen/) },
    { name: 'no TLS flags', args: () => ['webhook', '--listen', '127.0.0.1:0'], exit: 2, stderr: named(/--tls-dir/) },
    { name: 'no --config', args: () => ['webhook', '--listen', '127.0.0.1:0', '--tls-dir', '/nonexistent/idgate'], exit: 2, stderr: named(/--config/) },
    {
      name: 'missing certificate files',
      args: () => ['webhook', '--listen', '127.0.0.1:0', '--tls-dir', '/nonexistent/idgate', ...EXAMPLES],
      exit: 2,
      stderr: named(/--tls-cert.*\/nonexistent\/idgate\/tls\.crt|\/nonexistent\/idgate\/tls\.crt/),
    },
    {
      name: 'bad baseline line',
      args: (f) => ['webhook', '--tls-dir', f.dir, '--config', f.badBaseline, '--bindings-file', 'examples/bindings.yaml'],
      exit: 2,
      stderr: (f) => new RegExp(`--config: [\\s\\S]*${literal(f.badBaseline)}:6: sidecar.port`),
    },
    {
      name: 'bad bindings file',
      args: (f) => ['webhook', '--listen', '127.0.0.1:0', '--tls-dir', f.certs, '--config', 'examples/baseline.yaml', '--bindings-file', f.badBindings],
      exit: 2,
      stderr: (f) => new RegExp(`--bindings-file: [\\s\\S]*${literal(f.badBindings)}:5: spec.issuer`),
    },
    {
      name: 'missing --client-ca file',
      args: (f) => ['webhook', '--listen', '127.0.0.1:0', '--tls-dir', f.certs, ...EXAMPLES, '--client-ca', '/nonexistent/ca.crt'],
      exit: 2,
      stderr: named(/--client-ca \/nonexistent\/ca\.crt/),
    },
    {
      name: 'missing --kubeconfig file',
      args: (f) => [
        'webhook',
        '--listen',
        '127.0.0.1:0',
        '--tls-dir',
        f.certs,
        '--config',
        'examples/baseline.yaml',
        '--kubeconfig',
        '/nonexistent/kubeconfig',
      ],
      exit: 2,
      stderr: named(/\/nonexistent\/kubeconfig: no such file \(check --kubeconfig\)/),
    },
    {
      name: '--manage-certs without --cert-secret',
      args: (f) => ['webhook', '--tls-dir', f.certs, ...EXAMPLES, '--manage-certs'],
      exit: 2,
      stderr: named(/--cert-secret/),
    },
    {
      name: 'port in use',
      args: (f) => ['webhook', '--listen', `127.0.0.1:${f.busyPort}`, '--tls-dir', f.certs, ...EXAMPLES],
      exit: 2,
      stderr: (f) => new RegExp(`^idgate: --listen: cannot listen on 127\\.0\\.0\\.1:${f.busyPort}: the address is in use \\(EADDRINUSE\\)\\n$`),
    },
  ],
  proxy: [
    { name: 'serves, then exits 0 on SIGTERM', args: () => ['proxy', ...PROXY, '--listen', '127.0.0.1:0'], exit: 0, ready: 'proxy listening' },
    { name: 'no --upstream', args: () => ['proxy', ...PROXY.slice(2)], exit: 2, stderr: named(/--upstream/) },
    { name: 'https --upstream', args: () => ['proxy', ...PROXY.slice(2), '--upstream', 'https://127.0.0.1:1'], exit: 2, stderr: named(/idgate: --upstream: /) },
    { name: 'bad --listen', args: () => ['proxy', ...PROXY, '--listen', 'nowhere'], exit: 2, stderr: named(/--listen/) },
    {
      name: 'port in use',
      args: (f) => ['proxy', ...PROXY, '--listen', `127.0.0.1:${f.busyPort}`],
      exit: 2,
      stderr: (f) => new RegExp(`^idgate: --listen: cannot listen on 127\\.0\\.0\\.1:${f.busyPort}: the address is in use \\(EADDRINUSE\\)\\n$`),
    },
  ],
  audit: [
    { name: 'a clean namespace', args: (f) => ['audit', '--kubeconfig', f.kubeconfig, '--config', 'examples/baseline.yaml', '-n', 'empty'], exit: 0 },
    { name: 'violations', args: (f) => ['audit', '--kubeconfig', f.kubeconfig, '--config', 'examples/baseline.yaml', '-n', 'payments'], exit: 1 },
    { name: 'no --config', args: (f) => ['audit', '--kubeconfig', f.kubeconfig], exit: 2, stderr: named(/--config FILE/) },
    {
      name: 'bad baseline line',
      args: (f) => ['audit', '--kubeconfig', f.kubeconfig, '--config', f.badBaseline],
      exit: 2,
      stderr: (f) => new RegExp(`--config: [\\s\\S]*${literal(f.badBaseline)}:6: sidecar.port`),
    },
    {
      name: 'missing --kubeconfig file',
      args: (f) => ['audit', '--kubeconfig', join(f.dir, 'missing'), '--config', 'examples/baseline.yaml'],
      exit: 2,
      stderr: named(/cannot load the kubeconfig .*missing \(from --kubeconfig\): no such file/),
    },
    {
      name: 'unknown --context',
      args: (f) => ['audit', '--kubeconfig', f.kubeconfig, '--context', 'prod', '--config', 'examples/baseline.yaml'],
      exit: 2,
      stderr: named(/--context prod: no such context/),
    },
    {
      name: 'unreachable cluster',
      args: (f) => ['audit', '--kubeconfig', f.unreachable, '--config', 'examples/baseline.yaml'],
      exit: 2,
      stderr: named(/cannot read the cluster at https:\/\/127\.0\.0\.1:1: .*check --kubeconfig\/--context/),
    },
    { name: 'bad --output', args: () => ['audit', '-o', 'xml'], exit: 2, stderr: named(/--output/) },
  ],
  check: [
    { name: 'nothing denied', args: () => ['check', '-f', 'examples/manifests/networkpolicy-good.yaml', '--config', 'examples/baseline.yaml'], exit: 0 },
    { name: 'violations', args: () => ['check', '-f', 'examples/manifests', '--config', 'examples/baseline.yaml'], exit: 1 },
    { name: 'no -f', args: () => ['check', '--config', 'examples/baseline.yaml'], exit: 2, stderr: named(/-f FILE\|DIR\|- is required/) },
    { name: 'no --config', args: () => ['check', '-f', 'examples/manifests'], exit: 2, stderr: named(/--config FILE .* is required/) },
    {
      name: 'bad baseline line',
      args: (f) => ['check', '-f', 'examples/manifests', '--config', f.badBaseline],
      exit: 2,
      stderr: (f) => new RegExp(`--config: [\\s\\S]*${literal(f.badBaseline)}:6: sidecar.port`),
    },
    {
      name: 'bad bindings file',
      args: (f) => ['check', '-f', 'examples/manifests', '--config', 'examples/baseline.yaml', '--bindings-file', f.badBindings],
      exit: 2,
      stderr: (f) => new RegExp(`--bindings-file: [\\s\\S]*${literal(f.badBindings)}:5: spec.issuer`),
    },
    {
      name: 'YAML syntax error in the input',
      args: () => ['check', '-f', 'test/fixtures/check/bad-syntax.yaml', '--config', 'examples/baseline.yaml'],
      exit: 2,
      stderr: named(/unreadable input:\ntest\/fixtures\/check\/bad-syntax\.yaml:1[01]: YAML syntax error/),
    },
    {
      name: 'missing input file',
      args: () => ['check', '-f', 'nope.yaml', '--config', 'examples/baseline.yaml'],
      exit: 2,
      stderr: named(/nope\.yaml: cannot read/),
    },
    {
      name: 'not an object on stdin',
      args: () => ['check', '-f', '-', '--config', 'examples/baseline.yaml'],
      input: 'just: a map\n',
      exit: 2,
      stderr: named(/-:1: not a Kubernetes object/),
    },
  ],
  certs: [
    { name: 'generates', args: (f) => ['certs', 'generate', '--out', join(f.dir, 'generated')], exit: 0 },
    { name: 'no --out', args: () => ['certs', 'generate'], exit: 2, stderr: named(/--out/) },
    { name: 'bad --days', args: (f) => ['certs', 'generate', '--out', f.dir, '--days', 'zero'], exit: 2, stderr: named(/--days/) },
  ],
  'label-for-group': [
    { name: 'prints the label key', args: () => ['label-for-group', 'payments-writers'], exit: 0 },
    { name: 'no GROUP', args: () => ['label-for-group'], exit: 2, stderr: named(/group/) },
  ],
  '(no subcommand)': [{ name: 'unknown subcommand', args: () => ['frobnicate'], exit: 2, stderr: named(/frobnicate/) }],
};

/** A kubeconfig for a server nothing listens on. */
const UNREACHABLE = `apiVersion: v1
kind: Config
current-context: gone
clusters:
- name: gone
  cluster: { server: "https://127.0.0.1:1" }
users:
- name: u
  user: { token: t }
contexts:
- name: gone
  context: { cluster: gone, user: u }
`;

async function setUp(api: FakeApiServer, holder: Server): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'idgate-exit-'));
  const badBaseline = join(dir, 'baseline.yaml');
  await writeFile(
    badBaseline,
    'apiVersion: idgate.dev/v1alpha1\nkind: IdentityBaseline\ntrustedIssuers: [https://issuer.example]\nsidecar:\n  image: x\n  port: 70000\n',
  );
  const badBindings = join(dir, 'bindings.yaml');
  await writeFile(
    badBindings,
    'apiVersion: idgate.dev/v1alpha1\nkind: OIDCGroupBinding\nmetadata: { name: b, namespace: ns }\nspec:\n  issuer: http://plain.example\n  groups: [g]\n  serviceAccounts: [sa]\n',
  );
  const unreachable = join(dir, 'unreachable');
  await writeFile(unreachable, UNREACHABLE);
  api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'host', namespace: 'payments' },
    spec: { hostNetwork: true, containers: [{ name: 'a', image: 'a' }] },
  });
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const busyPort = (holder.address() as { port: number }).port;
  return { dir, certs: (await makeCertDir()).dir, badBaseline, badBindings, kubeconfig: await api.writeKubeconfig(dir), unreachable, busyPort };
}

/** Generous: loading the Kubernetes client takes seconds on a busy machine, and no row is about time. */
const TIMEOUT_MS = 90_000;

async function runRow(row: Row, f: Fixtures): Promise<{ code: number | null; stderr: string }> {
  if (!row.ready) return runCli(row.args(f), { timeoutMs: TIMEOUT_MS, ...(row.input !== undefined ? { input: row.input } : {}) });
  const { child, exited } = await startCli(row.args(f), (l) => l.msg === row.ready, TIMEOUT_MS);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.kill('SIGTERM');
  return { code: await exited, stderr };
}

describe('exit codes of every subcommand', { concurrency: 2 }, () => {
  let api: FakeApiServer;
  const holder = createServer();
  let f: Fixtures;
  before(async () => {
    api = await startFakeApiServer();
    f = await setUp(api, holder);
  });
  after(async () => {
    holder.close();
    await api.close();
    await rm(f.dir, { recursive: true, force: true });
  });

  for (const [command, rows] of Object.entries(ROWS)) {
    for (const row of rows) {
      it(`${command}: ${row.name} → exit ${row.exit}`, async () => {
        const res = await runRow(row, f);
        assert.equal(res.code, row.exit, res.stderr);
        if (row.exit === 2) assert.ok(row.stderr, 'an exit-2 row says what stderr must name');
        if (row.stderr) assert.match(res.stderr, row.stderr(f));
      });
    }
  }
});
