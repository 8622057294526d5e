/** Kubernetes List objects in files (src/lib/kube-list.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listItems } from '../../src/lib/kube-list.ts';

describe('lib/kube-list', () => {
  it('unwraps kind: List and typed lists', () => {
    assert.deepEqual(listItems({ apiVersion: 'v1', kind: 'List', items: [{ kind: 'Pod' }] }), [{ kind: 'Pod' }]);
    assert.deepEqual(listItems({ kind: 'OIDCGroupBindingList', items: [] }), []);
  });
  it('leaves everything else alone', () => {
    for (const value of [null, 'List', [], { kind: 'Pod' }, { kind: 'List' }, { kind: 'List', items: {} }, { items: [] }]) {
      assert.equal(listItems(value), undefined, JSON.stringify(value));
    }
  });
});
