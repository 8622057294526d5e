import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BindingError, ERR_BINDINGS_FILE } from '../../src/identity/binding.ts';
import { createFileIdentitySource, loadBindingsFile, parseBindingsYaml } from '../../src/identity/file-source.ts';
import { eventually } from '../support/eventually.ts';

const logger = pino({ level: 'silent' });
const binding = (name: string, ns: string, sas = '[api]', issuer = 'https://idp.example.com') => `apiVersion: idgate.dev/v1alpha1
kind: OIDCGroupBinding
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  issuer: ${issuer}
  groups: [${name}]
  serviceAccounts: ${sas}
`;

describe('parseBindingsYaml', () => {
  it('reads multi-document YAML, unwraps Lists and ignores empty documents', () => {
    const text = `${binding('a', 'ns1')}---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: idgate.dev/v1alpha1\n  kind: OIDCGroupBinding\n  metadata: {name: b, namespace: ns2}\n  spec: {issuer: 'https://idp.example.com', groups: [g], serviceAccounts: [w]}\n`;
    const { bindings, issues } = parseBindingsYaml(text, 'b.yaml');
    assert.deepEqual(issues, []);
    assert.deepEqual(bindings.map((b) => `${b.namespace}/${b.name}`), ['ns1/a', 'ns2/b']);
  });

  it('reports the file and the line of the bad field, in every document and list item', () => {
    const text = `${binding('a', 'ns1', '[Bad_SA]')}---\nkind: List\napiVersion: v1\nitems:\n- apiVersion: idgate.dev/v1alpha1\n  kind: OIDCGroupBinding\n  metadata: {name: b, namespace: ns2}\n  spec:\n    issuer: http://plain.example.com\n    groups: [g]\n    serviceAccounts: [w]\n`;
    const { bindings, issues } = parseBindingsYaml(text, 'b.yaml');
    assert.deepEqual(bindings, []);
    assert.deepEqual(issues.map((i) => [i.file, i.line, i.field]), [
      ['b.yaml', 9, 'spec.serviceAccounts[0]'],
      ['b.yaml', 18, 'spec.issuer'],
    ]);
  });

  it('points a missing field at its parent mapping', () => {
    const text = `apiVersion: idgate.dev/v1alpha1\nkind: OIDCGroupBinding\nmetadata:\n  name: a\nspec:\n  issuer: https://idp.example.com\n  groups: [g]\n  serviceAccounts: [a]\n`;
    const { issues } = parseBindingsYaml(text, 'f.yaml');
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.field, 'metadata.namespace');
    assert.equal(issues[0]?.line, 4);
  });

  it('reports YAML syntax errors with their line', () => {
    const { issues } = parseBindingsYaml(`${binding('a', 'ns1')}---\nkind: a: b\nmetadata: {}\n`, 'x.yaml');
    assert.equal(issues.length > 0, true);
    assert.match(issues[0]?.message ?? '', /YAML syntax error/);
    assert.equal(issues[0]?.line, 11);
  });

  it('rejects duplicates and other kinds (or skips other kinds on request)', () => {
    const text = `${binding('a', 'ns1')}---\n${binding('a', 'ns1')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n`;
    const strict = parseBindingsYaml(text, 'd.yaml');
    assert.deepEqual(strict.issues.map((i) => [i.line, i.field]), [[14, 'metadata.name'], [22, 'kind']]);
    assert.match(strict.issues[0]?.message ?? '', /defined twice \(first at line 1\)/);
    const lax = parseBindingsYaml(`${binding('a', 'ns1')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n`, 'd.yaml', { otherKinds: 'skip' });
    assert.deepEqual(lax.issues, []);
    assert.equal(lax.bindings.length, 1);
  });
});

describe('bindings file', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'idgate-bindings-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('loadBindingsFile throws ERR_BINDINGS_FILE with path:line in the message', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, binding('a', 'ns1', '[api]', 'http://x.example.com'));
    await assert.rejects(loadBindingsFile(file), (err: unknown) => {
      assert.ok(err instanceof BindingError);
      assert.equal(err.code, ERR_BINDINGS_FILE);
      assert.ok(err.message.includes(`${file}:7: spec.issuer:`), err.message);
      return true;
    });
    await assert.rejects(loadBindingsFile(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the bindings file: no such file/);
  });

  it('fills and marks the index, and reloads keeping the last good set on a bad edit', async () => {
    const file = join(dir, 'live.yaml');
    await writeFile(file, binding('a', 'ns1'));
    const source = createFileIdentitySource({ path: file, logger, watch: true, pollMs: 20 });
    assert.equal(source.index.ready(), false);
    await source.start();
    try {
      assert.equal(source.index.ready(), true);
      const trusted = new Set(['https://idp.example.com']);
      assert.deepEqual(source.index.resolve('ns1', 'api', trusted).groups, ['a']);

      // Replace the file the way editors and ConfigMap updates do (write elsewhere, rename over).
      await writeFile(join(dir, 'tmp.yaml'), `${binding('b', 'ns1')}---\n${binding('c', 'ns2')}`);
      await rename(join(dir, 'tmp.yaml'), file);
      await eventually(() => source.index.bindings().length === 2, 3000, 'the reloaded bindings');
      assert.deepEqual(source.index.resolve('ns1', 'api', trusted).groups, ['b']);

      await writeFile(file, 'kind: [broken');
      assert.equal(await source.reload(), false);
      assert.equal(source.index.bindings().length, 2, 'last good set kept');
      assert.ok(source.status().restarts >= 1);
      assert.equal(source.status().kind, 'file');
    } finally {
      await source.stop();
    }
  });

  it('start() rejects an invalid file and leaves the index unsynced', async () => {
    const file = join(dir, 'invalid.yaml');
    await writeFile(file, binding('a', '""'));
    const source = createFileIdentitySource({ path: file, logger });
    await assert.rejects(source.start(), /invalid\.yaml:5: metadata\.namespace/);
    assert.equal(source.index.ready(), false);
  });
});
