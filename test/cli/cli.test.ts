import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.ts';

const EXAMPLES = ['--config', 'examples/baseline.yaml', '--bindings-file', 'examples/bindings.yaml'];

describe('idgate command line', () => {
  it('label-for-group prints the whole label key', async () => {
    const res = await runCli(['label-for-group', 'payments-writers']);
    assert.equal(res.code, 0);
    assert.equal(res.stdout, 'group.idgate.dev/payments-writers\n');
  });

  it('exits 2 on an unknown subcommand or flag', async () => {
    assert.equal((await runCli(['frobnicate'])).code, 2);
    const res = await runCli(['webhook', '--no-such-flag']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--no-such-flag/);
  });

  it('webhook exits 2 naming the flag when TLS files are missing or unreadable', async () => {
    const none = await runCli(['webhook', '--listen', '127.0.0.1:0']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--tls-dir/);
    const noConfig = await runCli(['webhook', '--listen', '127.0.0.1:0', '--tls-dir', '/nonexistent/idgate']);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /--config/);
    const missing = await runCli(['webhook', '--listen', '127.0.0.1:0', '--tls-dir', '/nonexistent/idgate', ...EXAMPLES]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--tls-cert.*\/nonexistent\/idgate\/tls\.crt|\/nonexistent\/idgate\/tls\.crt/);
    const badListen = await runCli(['webhook', '--listen', 'nowhere']);
    assert.equal(badListen.code, 2);
    assert.match(badListen.stderr, /--listen/);
  });

  it('webhook exits 2 with file and line for an invalid baseline or bindings file', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'idgate-cli-'));
    const baseline = join(dir, 'baseline.yaml');
    await writeFile(
      baseline,
      'apiVersion: idgate.dev/v1alpha1\nkind: IdentityBaseline\ntrustedIssuers: [https://issuer.example]\nsidecar:\n  image: x\n  port: 70000\n',
    );
    const badBaseline = await runCli(['webhook', '--tls-dir', dir, '--config', baseline, '--bindings-file', 'examples/bindings.yaml']);
    assert.equal(badBaseline.code, 2);
    assert.match(badBaseline.stderr, new RegExp(`--config: [\\s\\S]*${baseline}:6: sidecar.port`));
    const bindings = join(dir, 'bindings.yaml');
    await writeFile(
      bindings,
      'apiVersion: idgate.dev/v1alpha1\nkind: OIDCGroupBinding\nmetadata: { name: b, namespace: ns }\nspec:\n  issuer: http://plain.example\n  groups: [g]\n  serviceAccounts: [sa]\n',
    );
    const { makeCertDir } = await import('../support/tls.ts');
    const certs = await makeCertDir();
    const badBindings = await runCli([
      'webhook',
      '--listen',
      '127.0.0.1:0',
      '--tls-dir',
      certs.dir,
      '--config',
      'examples/baseline.yaml',
      '--bindings-file',
      bindings,
    ]);
    assert.equal(badBindings.code, 2);
    assert.match(badBindings.stderr, new RegExp(`--bindings-file: [\\s\\S]*${bindings}:5: spec.issuer`));
  });

  it('reads flags from IDGATE_* environment variables', async () => {
    const res = await runCli(['webhook'], { env: { IDGATE_LISTEN: 'not-an-address' } });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /not-an-address/);
  });

  it('prints help and the version with exit 0', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    for (const sub of ['webhook', 'proxy', 'audit', 'check', 'certs', 'label-for-group']) assert.match(help.stdout, new RegExp(sub));
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });
});
