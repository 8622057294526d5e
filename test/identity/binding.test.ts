import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BindingError, ERR_BINDING_INVALID, parseBinding, validateBinding } from '../../src/identity/binding.ts';

const valid = () => ({
  apiVersion: 'idgate.dev/v1alpha1',
  kind: 'OIDCGroupBinding',
  metadata: { name: 'payments-writers', namespace: 'payments' },
  spec: { issuer: 'https://keycloak.example.com/realms/prod', groups: ['payments-writers', 'ledger-readers'], serviceAccounts: ['api', 'worker'] },
});

describe('validateBinding', () => {
  it('turns a valid object into a Binding', () => {
    assert.deepEqual(parseBinding(valid()), {
      namespace: 'payments',
      name: 'payments-writers',
      issuer: 'https://keycloak.example.com/realms/prod',
      groups: ['payments-writers', 'ledger-readers'],
      serviceAccounts: ['api', 'worker'],
    });
  });

  // name → mutation of the valid object → expected field paths of the issues
  const cases: [string, (o: any) => void, string[]][] = [
    [
      'wrong apiVersion',
      (o) => {
        o.apiVersion = 'idgate.dev/v1';
      },
      ['apiVersion'],
    ],
    [
      'wrong kind',
      (o) => {
        o.kind = 'ConfigMap';
      },
      ['kind'],
    ],
    [
      'no metadata',
      (o) => {
        delete o.metadata;
      },
      ['metadata'],
    ],
    [
      'no name',
      (o) => {
        delete o.metadata.name;
      },
      ['metadata.name'],
    ],
    [
      'no namespace (no default)',
      (o) => {
        delete o.metadata.namespace;
      },
      ['metadata.namespace'],
    ],
    [
      'bad namespace',
      (o) => {
        o.metadata.namespace = 'Payments';
      },
      ['metadata.namespace'],
    ],
    [
      'no spec',
      (o) => {
        delete o.spec;
      },
      ['spec'],
    ],
    [
      'http issuer',
      (o) => {
        o.spec.issuer = 'http://keycloak.example.com';
      },
      ['spec.issuer'],
    ],
    [
      'issuer not a URL',
      (o) => {
        o.spec.issuer = 'keycloak';
      },
      ['spec.issuer'],
    ],
    [
      'no issuer',
      (o) => {
        delete o.spec.issuer;
      },
      ['spec.issuer'],
    ],
    [
      'empty groups',
      (o) => {
        o.spec.groups = [];
      },
      ['spec.groups'],
    ],
    [
      'groups not a list',
      (o) => {
        o.spec.groups = 'admins';
      },
      ['spec.groups'],
    ],
    [
      'empty group string',
      (o) => {
        o.spec.groups = ['ok', ''];
      },
      ['spec.groups[1]'],
    ],
    [
      'non-string group',
      (o) => {
        o.spec.groups = [42];
      },
      ['spec.groups[0]'],
    ],
    [
      'missing serviceAccounts',
      (o) => {
        delete o.spec.serviceAccounts;
      },
      ['spec.serviceAccounts'],
    ],
    [
      'SA not DNS-1123',
      (o) => {
        o.spec.serviceAccounts = ['api', 'Bad_Name'];
      },
      ['spec.serviceAccounts[1]'],
    ],
    [
      'SA too long',
      (o) => {
        o.spec.serviceAccounts = ['a'.repeat(64)];
      },
      ['spec.serviceAccounts[0]'],
    ],
    [
      'several at once',
      (o) => {
        o.spec.issuer = 'ftp://x';
        o.spec.groups = [];
        delete o.metadata.namespace;
      },
      ['metadata.namespace', 'spec.issuer', 'spec.groups'],
    ],
  ];
  for (const [name, mutate, fields] of cases) {
    it(`rejects: ${name}`, () => {
      const obj = valid();
      mutate(obj);
      const result = validateBinding(obj);
      assert.equal(result.ok, false);
      assert.deepEqual(result.ok ? [] : result.issues.map((i) => i.field), fields);
    });
  }

  it('rejects non-objects without throwing', () => {
    for (const v of [null, 'x', 3, []]) assert.equal(validateBinding(v).ok, false);
  });

  it('parseBinding throws a coded error naming the object, the field and the fix', () => {
    const obj = valid();
    delete (obj.metadata as { namespace?: string }).namespace;
    assert.throws(
      () => parseBinding(obj),
      (err: unknown) => {
        assert.ok(err instanceof BindingError);
        assert.equal(err.code, ERR_BINDING_INVALID);
        assert.match(err.message, /OIDCGroupBinding <no namespace>\/payments-writers/);
        assert.match(err.message, /metadata\.namespace: is required \(there is no default\)/);
        return true;
      },
    );
  });
});
