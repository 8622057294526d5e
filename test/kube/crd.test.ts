/**
 * The OIDCGroupBinding CRD: structural, and its schema agrees with src/identity/binding.ts on a
 * table of good and bad objects (what the API server refuses, the validator refuses too).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import { validateBinding } from '../../src/identity/binding.ts';

const crd = parse(await readFile(new URL('../../manifests/base/crd-oidcgroupbinding.yaml', import.meta.url), 'utf8'));
const version = crd.spec.versions[0];
const schema = version.schema.openAPIV3Schema;
// Kubernetes extensions are annotations to ajv; formats (date-time) are not what this test checks.
const validate = new Ajv({ strict: false, validateFormats: false, allErrors: true }).compile(schema);

const obj = (spec: Record<string, unknown>) => ({
  apiVersion: 'idgate.dev/v1alpha1',
  kind: 'OIDCGroupBinding',
  metadata: { name: 'b', namespace: 'ns' },
  spec: { issuer: 'https://idp.example.com/realms/prod', groups: ['payments-writers'], serviceAccounts: ['api'], ...spec },
});

describe('OIDCGroupBinding CRD', () => {
  it('names, scope, version and subresources', () => {
    assert.equal(crd.metadata.name, 'oidcgroupbindings.idgate.dev');
    assert.equal(crd.spec.group, 'idgate.dev');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(crd.spec.names.shortNames, ['ogb']);
    assert.deepEqual(crd.spec.names.categories, ['idgate']);
    assert.equal(version.name, 'v1alpha1');
    assert.equal(version.served && version.storage, true);
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(
      version.additionalPrinterColumns.map((c: { name: string }) => c.name),
      ['Issuer', 'Groups', 'ServiceAccounts', 'Age'],
    );
  });

  it('is structural: every schema node below the root declares a type', () => {
    const missing: string[] = [];
    const walk = (node: Record<string, any>, path: string) => {
      if (!node.type && !node['x-kubernetes-int-or-string'] && !node['x-kubernetes-preserve-unknown-fields']) missing.push(path);
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v as Record<string, any>, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
    };
    walk(schema, '');
    assert.deepEqual(missing, []);
  });

  const cases: [string, Record<string, unknown>, boolean][] = [
    ['valid', {}, true],
    ['http issuer', { issuer: 'http://idp.example.com' }, false],
    ['issuer without scheme', { issuer: 'idp.example.com' }, false],
    ['issuer with a fragment', { issuer: 'https://idp.example.com/#x' }, false],
    ['no groups', { groups: [] }, false],
    ['empty group', { groups: [''] }, false],
    ['no serviceAccounts', { serviceAccounts: [] }, false],
    ['upper-case SA', { serviceAccounts: ['API'] }, false],
    ['SA with a dot', { serviceAccounts: ['a.b'] }, false],
    ['SA of 64 characters', { serviceAccounts: ['a'.repeat(64)] }, false],
    ['SA of 63 characters', { serviceAccounts: ['a'.repeat(63)] }, true],
    ['missing issuer', { issuer: undefined }, false],
  ];
  for (const [name, spec, ok] of cases) {
    it(`${ok ? 'accepts' : 'rejects'} ${name}, as validateBinding does`, () => {
      const o = JSON.parse(JSON.stringify(obj(spec)));
      assert.equal(validate(o), ok, JSON.stringify(validate.errors));
      assert.equal(validateBinding(o).ok, ok);
    });
  }

  it('rejects a binding without spec', () => {
    assert.equal(validate({ apiVersion: 'idgate.dev/v1alpha1', kind: 'OIDCGroupBinding', metadata: {} }), false);
  });

  it('accepts a status with metav1.Conditions and rejects a malformed one', () => {
    const condition = { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Accepted', message: 'ok' };
    assert.equal(validate({ ...obj({}), status: { observedGeneration: 1, conditions: [condition] } }), true);
    assert.equal(validate({ ...obj({}), status: { conditions: [{ ...condition, status: 'Yes' }] } }), false);
  });
});
