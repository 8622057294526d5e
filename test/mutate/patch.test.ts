import { test } from 'node:test';
import assert from 'node:assert/strict';
import fjp from 'fast-json-patch';
import { appendPatch, escapePointer, mapPatch, pointer, prependPatch } from '../../src/mutate/patch.ts';

test('escapePointer escapes ~ before / (RFC 6901 section 3)', () => {
  const cases: Array<[string, string]> = [
    ['plain', 'plain'],
    ['group.idgate.dev/payments', 'group.idgate.dev~1payments'],
    ['a~b', 'a~0b'],
    // "~1" literally must become "~01", not "/" after a round trip.
    ['~1', '~01'],
    ['a/~/b', 'a~1~0~1b'],
  ];
  for (const [input, want] of cases) assert.equal(escapePointer(input), want, input);
});

test('pointer escapes every token and accepts indices', () => {
  assert.equal(pointer('metadata', 'labels', 'group.idgate.dev/x'), '/metadata/labels/group.idgate.dev~1x');
  assert.equal(pointer('spec', 'containers', 0, 'volumeMounts'), '/spec/containers/0/volumeMounts');
});

test('mapPatch adds a missing map whole, and nothing for an empty desired map', () => {
  assert.deepEqual(mapPatch('/metadata/labels', undefined, { a: '1' }), [{ op: 'add', path: '/metadata/labels', value: { a: '1' } }]);
  assert.deepEqual(mapPatch('/metadata/labels', undefined, {}), []);
});

test('mapPatch emits per-key add/replace/remove, sorted, and nothing when equal', () => {
  const current = { keep: 'x', change: 'old', 'drop/me': 'y' };
  const desired = { keep: 'x', change: 'new', 'a~b/c': 'z' };
  assert.deepEqual(mapPatch('/m', current, desired), [
    { op: 'remove', path: '/m/drop~1me' },
    { op: 'add', path: '/m/a~0b~1c', value: 'z' },
    { op: 'replace', path: '/m/change', value: 'new' },
  ]);
  assert.deepEqual(mapPatch('/m', desired, { ...desired }), []);
});

test('mapPatch output applies with a real JSON-Patch implementation', () => {
  const doc = { m: { keep: 'x', change: 'old', 'drop/me': 'y' } };
  const desired = { keep: 'x', change: 'new', 'a~b/c': 'z' };
  const out = fjp.applyPatch(structuredClone(doc), mapPatch('/m', doc.m, desired), true, false).newDocument;
  assert.deepEqual(out.m, desired);
});

test('appendPatch and prependPatch add a missing list whole', () => {
  assert.deepEqual(appendPatch('/l', undefined, [1, 2]), [{ op: 'add', path: '/l', value: [1, 2] }]);
  assert.deepEqual(appendPatch('/l', [0], [1, 2]), [
    { op: 'add', path: '/l/-', value: 1 },
    { op: 'add', path: '/l/-', value: 2 },
  ]);
  assert.deepEqual(appendPatch('/l', [0], []), []);
  assert.deepEqual(prependPatch('/l', undefined, 1), [{ op: 'add', path: '/l', value: [1] }]);
  assert.deepEqual(prependPatch('/l', [0], 1), [{ op: 'add', path: '/l/0', value: 1 }]);
  const doc = { l: ['b'] };
  assert.deepEqual(fjp.applyPatch(structuredClone(doc), prependPatch('/l', doc.l, 'a'), true, false).newDocument.l, ['a', 'b']);
});
