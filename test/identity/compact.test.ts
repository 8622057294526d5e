import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMPACT_MIN_BINDINGS, compactAfterLoad } from '../../src/identity/compact.ts';

test('compacting after a large load does not expose gc() to the process', () => {
  const before = 'gc' in globalThis;
  compactAfterLoad(COMPACT_MIN_BINDINGS);
  compactAfterLoad(COMPACT_MIN_BINDINGS);
  assert.equal('gc' in globalThis, before);
});

test('a small load is not compacted (and needs no gc)', () => {
  compactAfterLoad(COMPACT_MIN_BINDINGS - 1);
  assert.equal('gc' in globalThis, false);
});
