import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BindingIndex } from '../../src/identity/index.ts';
import { encodeGroup } from '../../src/identity/labels.ts';
import type { Binding } from '../../src/identity/types.ts';

const KC = 'https://keycloak.example.com/realms/prod';
const OTHER = 'https://other.example.com';
const trusted = new Set([KC]);
const b = (name: string, groups: string[], serviceAccounts: string[], issuer = KC, namespace = 'payments'): Binding => ({
  namespace,
  name,
  issuer,
  groups,
  serviceAccounts,
});
const groupsOf = (index: BindingIndex, sa: string, ns = 'payments') => index.resolve(ns, sa, trusted);

describe('BindingIndex', () => {
  it('merges the groups of every trusted binding of a ServiceAccount, sorted and unique', () => {
    const index = new BindingIndex();
    index.upsert(b('writers', ['payments-writers', 'ledger'], ['api', 'api']));
    index.upsert(b('readers', ['ledger', 'payments-readers'], ['api', 'worker']));
    index.upsert(b('untrusted', ['admins'], ['api'], OTHER));
    index.upsert(b('elsewhere', ['shop'], ['api'], KC, 'shop'));
    assert.deepEqual(groupsOf(index, 'api'), {
      namespace: 'payments',
      serviceAccount: 'api',
      groups: ['ledger', 'payments-readers', 'payments-writers'],
      bindings: ['payments/readers', 'payments/writers'],
    });
    assert.deepEqual(groupsOf(index, 'worker').groups, ['ledger', 'payments-readers']);
    assert.deepEqual(groupsOf(index, 'nobody').groups, []);
  });

  it('deleting one of two bindings that share a ServiceAccount and a group keeps the other', () => {
    const index = new BindingIndex();
    index.upsert(b('writers', ['ledger', 'payments-writers'], ['api']));
    index.upsert(b('readers', ['ledger'], ['api']));
    index.delete('payments', 'writers');
    assert.deepEqual(groupsOf(index, 'api').groups, ['ledger']);
    assert.equal(index.providesGroupLabel(encodeGroup('ledger'), trusted), true);
    assert.equal(index.providesGroupLabel(encodeGroup('payments-writers'), trusted), false);
    index.delete('payments', 'readers');
    index.delete('payments', 'readers'); // twice: nothing left to remove
    assert.deepEqual(groupsOf(index, 'api').groups, []);
    assert.equal(index.providesGroupLabel(encodeGroup('ledger'), trusted), false);
    assert.deepEqual(index.bindings(), []);
  });

  it('an upsert replaces the binding of that name, dropping what it no longer lists', () => {
    const index = new BindingIndex();
    index.upsert(b('writers', ['payments-writers'], ['api']));
    index.upsert(b('writers', ['payments-readers'], ['worker']));
    assert.deepEqual(groupsOf(index, 'api').groups, []);
    assert.deepEqual(groupsOf(index, 'worker').groups, ['payments-readers']);
    assert.equal(index.providesGroupLabel(encodeGroup('payments-writers'), trusted), false);
    assert.equal(index.bindings().length, 1);
  });

  it('a group label counts as provided only by a binding of a trusted issuer', () => {
    const index = new BindingIndex();
    index.upsert(b('admins', ['admins'], ['ops'], OTHER));
    assert.equal(index.providesGroupLabel(encodeGroup('admins'), trusted), false);
    assert.equal(index.providesGroupLabel(encodeGroup('admins'), new Set([OTHER])), true);
    index.upsert(b('admins-kc', ['admins'], ['ops']));
    assert.equal(index.providesGroupLabel(encodeGroup('admins'), trusted), true);
  });

  it('replaceAll forgets every binding it is not given', () => {
    const index = new BindingIndex();
    index.upsert(b('writers', ['payments-writers'], ['api']));
    index.replaceAll([b('readers', ['payments-readers'], ['api'])]);
    assert.deepEqual(groupsOf(index, 'api').groups, ['payments-readers']);
    assert.equal(index.providesGroupLabel(encodeGroup('payments-writers'), trusted), false);
  });
});
