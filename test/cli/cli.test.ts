import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.ts';

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
    const missing = await runCli(['webhook', '--listen', '127.0.0.1:0', '--tls-dir', '/nonexistent/idgate']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--tls-cert.*\/nonexistent\/idgate\/tls\.crt|\/nonexistent\/idgate\/tls\.crt/);
    const badListen = await runCli(['webhook', '--listen', 'nowhere']);
    assert.equal(badListen.code, 2);
    assert.match(badListen.stderr, /--listen/);
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
