import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.ts';

// Exit codes and the flag or file:line each error names: exit-codes.test.ts.

describe('idgate command line', () => {
  it('label-for-group prints the whole label key', async () => {
    const res = await runCli(['label-for-group', 'payments-writers']);
    assert.equal(res.code, 0);
    assert.equal(res.stdout, 'group.idgate.dev/payments-writers\n');
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
