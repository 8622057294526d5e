import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';

describe('idgate certs generate', () => {
  it('writes a CA and a serving certificate with the service SANs, valid now, issued by the CA', async () => {
    const out = await mkdtemp(join(tmpdir(), 'idgate-gen-'));
    const res = await runCli([
      'certs',
      'generate',
      '--out',
      out,
      '--service',
      'idgate-webhook',
      '--namespace',
      'idgate-system',
      '--hosts',
      'webhook.example.test,10.0.0.7',
      '--days',
      '30',
    ]);
    assert.equal(res.code, 0, res.stderr);

    const ca = new X509Certificate(await readFile(join(out, 'ca.crt')));
    const leaf = new X509Certificate(await readFile(join(out, 'tls.crt')));
    const key = createPrivateKey(await readFile(join(out, 'tls.key')));

    assert.ok(ca.ca, 'ca.crt is a CA');
    assert.ok(!leaf.ca, 'tls.crt is not a CA');
    assert.ok(leaf.checkIssued(ca), 'tls.crt is issued by ca.crt');
    assert.ok(leaf.verify(ca.publicKey), 'tls.crt is signed with the CA key');
    assert.ok(leaf.checkPrivateKey(key), 'tls.key belongs to tls.crt');
    assert.equal(leaf.issuer, ca.subject);

    const sans = leaf.subjectAltName?.split(', ') ?? [];
    for (const expected of [
      'DNS:idgate-webhook.idgate-system.svc',
      'DNS:idgate-webhook.idgate-system.svc.cluster.local',
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'DNS:webhook.example.test',
      'IP Address:10.0.0.7',
    ]) {
      assert.ok(sans.includes(expected), `SAN ${expected} in ${leaf.subjectAltName}`);
    }
    assert.equal(leaf.checkHost('idgate-webhook.idgate-system.svc'), 'idgate-webhook.idgate-system.svc');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');

    const now = Date.now();
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    assert.ok(from <= now && now < to, 'valid now');
    const days = (to - now) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30.01, `valid for --days 30, got ${days}`);
    assert.ok(Date.parse(ca.validTo) >= to, 'the CA outlives the leaf');
    assert.ok(leaf.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'extended key usage serverAuth');

    assert.equal((await stat(join(out, 'tls.key'))).mode & 0o777, 0o600);
  });

  it('exits 2 naming the flag when --out is missing or --days is not a number', async () => {
    const missing = await runCli(['certs', 'generate']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--out/);
    const badDays = await runCli(['certs', 'generate', '--out', tmpdir(), '--days', 'soon']);
    assert.equal(badDays.code, 2);
    assert.match(badDays.stderr, /--days/);
  });
});
