/** The index reports what changed, and stays quiet when a relist finds nothing new. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ObservedBindingIndex, type IndexChange } from '../../src/controller/index-events.ts';

const b = (name: string, groups: string[], serviceAccounts: string[], namespace = 'payments') => ({
  namespace,
  name,
  issuer: 'https://issuer',
  groups,
  serviceAccounts,
});

describe('ObservedBindingIndex', () => {
  const setup = () => {
    const index = new ObservedBindingIndex();
    const changes: IndexChange[] = [];
    index.onChange((c) => changes.push(c));
    return { index, changes };
  };

  it('reports the ServiceAccounts a binding named before and after a change, once', () => {
    const { index, changes } = setup();
    index.upsert(b('w', ['g'], ['api']));
    index.upsert(b('w', ['g'], ['api', 'worker']));
    index.upsert(b('w', ['g'], ['api', 'worker'])); // same grant: silent
    index.delete('payments', 'w');
    index.delete('payments', 'w'); // already gone: silent
    assert.deepEqual(changes, [
      { kind: 'serviceAccounts', namespace: 'payments', serviceAccounts: ['api'] },
      { kind: 'serviceAccounts', namespace: 'payments', serviceAccounts: ['api', 'worker'] },
      { kind: 'serviceAccounts', namespace: 'payments', serviceAccounts: ['api', 'worker'] },
    ]);
    assert.deepEqual(index.resolve('payments', 'api', new Set(['https://issuer'])).groups, []);
  });

  it('diffs a relist: only what changed while disconnected is reported', () => {
    const { index, changes } = setup();
    index.replaceAll([b('a', ['g'], ['api']), b('b', ['h'], ['web'], 'shop')]);
    changes.length = 0;
    index.replaceAll([b('a', ['g'], ['api']), b('c', ['k'], ['db'], 'shop')]);
    assert.deepEqual(changes, [{ kind: 'serviceAccounts', namespace: 'shop', serviceAccounts: ['web', 'db'] }]);
    assert.deepEqual(index.resolve('shop', 'db', new Set(['https://issuer'])).groups, ['k']);
  });

  it('reports namespace label changes and deletions, diffed on relist', () => {
    const { index, changes } = setup();
    index.replaceNamespaces([
      ['a', { x: '1' }],
      ['b', {}],
    ]);
    index.setNamespace('a', { x: '1' }); // unchanged: silent
    index.setNamespace('a', { x: '2' });
    index.deleteNamespace('b');
    index.replaceNamespaces([
      ['a', { x: '2' }],
      ['c', {}],
    ]);
    assert.deepEqual(
      changes.map((c) => c.kind === 'namespace' && `${c.namespace}:${JSON.stringify(c.labels)}`),
      ['a:{"x":"1"}', 'b:{}', 'a:{"x":"2"}', 'b:undefined', 'c:{}'],
    );
    assert.deepEqual(index.namespaceNames().sort(), ['a', 'c']);
  });

  it('keeps whether a namespace is terminating, from a watch event and from a relist', () => {
    const { index } = setup();
    index.setNamespace('a', {}, true);
    assert.equal(index.namespaceTerminating('a'), true);
    index.replaceNamespaces([
      ['a', {}, false],
      ['b', {}, true],
    ]);
    assert.equal(index.namespaceTerminating('a'), false);
    assert.equal(index.namespaceTerminating('b'), true);
  });
});

describe('ObservedBindingIndex sync', () => {
  it('reports the first sync once', () => {
    const index = new ObservedBindingIndex();
    const changes: IndexChange[] = [];
    index.onChange((c) => changes.push(c));
    index.markSynced();
    index.markSynced();
    assert.deepEqual(changes, [{ kind: 'synced' }]);
    assert.equal(index.ready(), true);
  });
});
