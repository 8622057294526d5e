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

  // The schema decides; each message still names what is wrong and what to do.
  type Editable = { apiVersion: unknown; metadata: Record<string, unknown>; spec: Record<string, unknown> };
  const messages: [string, (o: Editable) => void, string][] = [
    [
      'no name',
      (o) => Reflect.deleteProperty(o.metadata, 'name'),
      'metadata.name: is required: name the binding (a DNS-1123 subdomain, e.g. payments-writers)',
    ],
    ['wrong apiVersion', (o) => (o.apiVersion = 'v1'), 'apiVersion: must be "idgate.dev/v1alpha1", got "v1"'],
    ['no spec', (o) => Reflect.deleteProperty(o, 'spec'), 'spec: is required: set spec.issuer, spec.groups and spec.serviceAccounts'],
    ['empty issuer', (o) => (o.spec.issuer = ''), 'spec.issuer: is required: set the https URL of the OIDC issuer (the "iss" claim of its tokens)'],
    [
      'groups not a list',
      (o) => (o.spec.groups = 'g'),
      "spec.groups: must be a list of strings: list at least one group (a value of the issuer's groups claim)",
    ],
    ['non-string group', (o) => (o.spec.groups = [42]), 'spec.groups[0]: must be a non-empty string, got 42'],
    ['spaced group', (o) => (o.spec.groups = [' g']), 'spec.groups[0]: " g" has leading or trailing spaces: remove them (groups are compared exactly)'],
    ['long group', (o) => (o.spec.groups = ['g'.repeat(1025)]), 'spec.groups[0]: is 1025 characters long: shorten it to at most 1024'],
    [
      'no serviceAccounts',
      (o) => Reflect.deleteProperty(o.spec, 'serviceAccounts'),
      'spec.serviceAccounts: is required: list at least one ServiceAccount name of this namespace',
    ],
    [
      'bad ServiceAccount',
      (o) => (o.spec.serviceAccounts = ['Api']),
      'spec.serviceAccounts[0]: "Api" is not a valid ServiceAccount name: use lower-case letters, digits and "-", at most 63 characters (DNS-1123 label)',
    ],
  ];
  for (const [name, mutate, message] of messages) {
    it(`says what to do: ${name}`, () => {
      const obj = valid();
      mutate(obj);
      const result = validateBinding(obj);
      assert.deepEqual(result.ok ? [] : result.issues.map((i) => `${i.field}: ${i.message}`), [message]);
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
