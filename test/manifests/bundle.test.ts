/**
 * The program the image ships (scripts/bundle.ts, docs/design.md#the-shipped-bundle): built here
 * into a temporary directory, checked for what it contains, and run as the image runs it, from a
 * bindings file and from a (fake) cluster through the bundled client-node.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { bundle } from '../../scripts/bundle.ts';
import { MAIN, startCli } from '../support/cli.ts';
import { eventually } from '../support/eventually.ts';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.ts';
import { httpsCall, makeCertDir, type CertDir } from '../support/tls.ts';

const CLIENT_NODE = /node_modules\/@kubernetes\/client-node\//;
const review = readFileSync('examples/reviews/pod-create.json', 'utf8');

/** The npm package an input path belongs to (`node_modules/a/node_modules/@s/b`), or undefined for our own files. */
function packageOf(input: string): string | undefined {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return undefined;
  const [scope, name] = input.slice(at + 'node_modules/'.length).split('/');
  return `${input.slice(0, at)}node_modules/${scope!.startsWith('@') ? `${scope}/${name}` : scope}`;
}

/** Every input loaded when the chunk of `entryPoint` runs: its static and dynamic imports, transitively. */
function inputsOf(metafile: Metafile, entryPoint: string): Set<string> {
  const outputs = metafile.outputs;
  const start = Object.keys(outputs).find((o) => outputs[o]!.entryPoint === entryPoint);
  assert.ok(start, `an output chunk for ${entryPoint}`);
  const seen = new Set<string>();
  const inputs = new Set<string>();
  const visit = (output: string) => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const input of Object.keys(outputs[output]!.inputs)) inputs.add(input);
    for (const { path } of outputs[output]!.imports) if (outputs[path]) visit(path);
  };
  visit(start);
  return inputs;
}

describe('the shipped bundle', () => {
  let outdir: string;
  let metafile: Metafile;
  let certs: CertDir;
  let api: FakeApiServer | undefined;

  before(async () => {
    outdir = await mkdtemp(join(tmpdir(), 'idgate-bundle-'));
    metafile = await bundle(outdir);
    certs = await makeCertDir();
  });
  after(async () => {
    await api?.close();
    await rm(outdir, { recursive: true, force: true });
  });

  it('holds production dependencies only: no package that only devDependencies need', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const packages = new Set(Object.keys(metafile.inputs).flatMap((input) => packageOf(input) ?? []));
    for (const name of packages) {
      assert.ok(lock.packages[name], `${name} is in package-lock.json`);
      assert.notEqual(lock.packages[name]!.dev, true, `${name} is needed by devDependencies only`);
    }
    for (const expected of ['node_modules/@kubernetes/client-node', 'node_modules/pino', 'node_modules/jose']) assert.ok(packages.has(expected), expected);
  });

  it('loads client-node only for the subcommands that talk to a cluster: never in the sidecar', () => {
    assert.ok(
      [...inputsOf(metafile, 'src/cli/webhook.ts')].some((i) => CLIENT_NODE.test(i)),
      'the webhook loads it',
    );
    const proxy = [...inputsOf(metafile, 'src/cli/proxy.ts')];
    assert.ok(proxy.length > 0);
    assert.deepEqual(
      proxy.filter((i) => CLIENT_NODE.test(i)),
      [],
    );
  });

  it('is ASCII only, so node holds each chunk as a one-byte string; the license notices ship beside it', () => {
    const outputs = Object.keys(metafile.outputs).filter((o) => o.endsWith('.mjs'));
    const notices = Object.keys(metafile.outputs).filter((o) => o.endsWith('.LEGAL.txt'));
    for (const output of outputs) {
      const bytes = readFileSync(output);
      const at = bytes.findIndex((b) => b > 0x7f);
      assert.equal(at, -1, `${output}: a non-ASCII byte at ${at} makes node keep the whole chunk's source as UTF-16`);
    }
    assert.ok(notices.length > 0, 'license notices are written');
    assert.ok(
      notices.some((n) => readFileSync(n, 'utf8').includes('Jimmy Wärting')),
      "undici's non-ASCII notice is in a .LEGAL.txt, not lost",
    );
  });

  it('answers the example Pod byte for byte as the sources do, from a bindings file', async () => {
    const args = [
      'webhook',
      '--config',
      'examples/baseline.yaml',
      '--bindings-file',
      'examples/bindings.yaml',
      '--tls-dir',
      certs.dir,
      '--listen',
      '127.0.0.1:0',
    ];
    const answers: string[] = [];
    for (const main of [join(outdir, 'main.mjs'), MAIN]) {
      const { child, line, exited } = await startCli(args, (l) => l.msg === 'webhook listening', 60_000, main);
      try {
        const res = await httpsCall(line.port as number, { ca: certs.ca.cert, path: '/mutate/pods', method: 'POST', body: review });
        assert.equal(res.status, 200);
        answers.push(res.body);
      } finally {
        child.kill('SIGTERM');
        assert.equal(await exited, 0, `${main} exits cleanly on SIGTERM`);
      }
    }
    assert.match(answers[0]!, /"patch":"/);
    assert.equal(answers[0], answers[1]);
  });

  it('gets ready from a cluster through the bundled client-node, and admits with its bindings', async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 100 });
    api.seed([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { 'idgate.dev/inject': 'enabled' } } },
      {
        apiVersion: 'idgate.dev/v1alpha1',
        kind: 'OIDCGroupBinding',
        metadata: { name: 'auditors', namespace: 'payments' },
        spec: { issuer: 'https://keycloak.example.com/realms/prod', groups: ['payments-auditors'], serviceAccounts: ['api'] },
      },
    ]);
    const kubeconfig = await api.writeKubeconfig(certs.dir);
    const args = ['webhook', '--kubeconfig', kubeconfig, '--config', 'examples/baseline.yaml', '--tls-dir', certs.dir, '--listen', '127.0.0.1:0'];
    const { child, line, exited } = await startCli(args, (l) => l.msg === 'webhook listening', 60_000, join(outdir, 'main.mjs'));
    try {
      const port = line.port as number;
      await eventually(async () => (await httpsCall(port, { ca: certs.ca.cert, path: '/readyz' })).status === 200, 20_000, 'ready from the cluster');
      const res = await httpsCall(port, { ca: certs.ca.cert, path: '/mutate/pods', method: 'POST', body: review });
      const ops = JSON.parse(Buffer.from(JSON.parse(res.body).response.patch, 'base64').toString()) as Array<{ path: string }>;
      assert.ok(
        ops.some((op) => op.path === '/metadata/labels/group.idgate.dev~1payments-auditors'),
        res.body,
      );
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
