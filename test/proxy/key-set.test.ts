/** The key set's decisions (key-set.ts): when to fetch, when to serve held keys, when to give up. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, mayRefetchForUnknownKid, planLookup, type KeySetPolicy, type KeySetState } from '../../src/proxy/key-set.ts';

const policy: KeySetPolicy = { cooldownMs: 30_000, refreshAfterMs: 600_000, maxStaleMs: 86_400_000, backoffFirstMs: 1_000, backoffMaxMs: 30_000 };
const T = 10_000_000;
const state = (s: Partial<KeySetState>): KeySetState => ({ fetchedAt: undefined, lastAttemptAt: undefined, retryAt: 0, pending: false, ...s });

describe('planLookup', () => {
  const cases: Array<{ name: string; s: KeySetState; want: ReturnType<typeof planLookup> }> = [
    { name: 'no keys yet: fetch', s: state({}), want: { use: 'fetch' } },
    { name: 'no keys, a fetch in flight: wait for it', s: state({ pending: true, lastAttemptAt: T }), want: { use: 'fetch' } },
    {
      name: 'no keys, backing off: unavailable until retryAt',
      s: state({ retryAt: T + 2_000, lastAttemptAt: T - 1_000 }),
      want: { use: 'unavailable', retryInMs: 2_000 },
    },
    { name: 'fresh keys: use them', s: state({ fetchedAt: T - 1_000 }), want: { use: 'keys', refresh: false } },
    { name: 'keys past the refresh age: use them and refresh', s: state({ fetchedAt: T - 600_000 }), want: { use: 'keys', refresh: true } },
    {
      name: 'keys past the refresh age, backing off: use them, no refresh',
      s: state({ fetchedAt: T - 3_600_000, retryAt: T + 1 }),
      want: { use: 'keys', refresh: false },
    },
    {
      name: 'keys past the refresh age, refresh in flight: use them',
      s: state({ fetchedAt: T - 3_600_000, pending: true }),
      want: { use: 'keys', refresh: false },
    },
    { name: 'keys at the stale bound: still used', s: state({ fetchedAt: T - 86_400_000, retryAt: T + 1 }), want: { use: 'keys', refresh: false } },
    {
      name: 'keys past the stale bound, backing off: unavailable',
      s: state({ fetchedAt: T - 86_400_001, retryAt: T + 5_000 }),
      want: { use: 'unavailable', retryInMs: 5_000 },
    },
    { name: 'keys past the stale bound, backoff over: fetch', s: state({ fetchedAt: T - 86_400_001, retryAt: T }), want: { use: 'fetch' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(planLookup(c.s, T, policy), c.want));
});

describe('mayRefetchForUnknownKid', () => {
  const cases: Array<{ name: string; s: KeySetState; want: boolean }> = [
    { name: 'never fetched', s: state({}), want: true },
    { name: 'last attempt within the cooldown', s: state({ fetchedAt: T - 10_000, lastAttemptAt: T - 10_000 }), want: false },
    { name: 'last attempt past the cooldown', s: state({ fetchedAt: T - 30_000, lastAttemptAt: T - 30_000 }), want: true },
    { name: 'past the cooldown but backing off', s: state({ fetchedAt: T - 60_000, lastAttemptAt: T - 31_000, retryAt: T + 1 }), want: false },
    { name: 'a fetch in flight: wait for it', s: state({ fetchedAt: T - 60_000, lastAttemptAt: T, pending: true }), want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(mayRefetchForUnknownKid(c.s, T, policy), c.want));
});

describe('backoffMs', () => {
  it('doubles from 1 s up to 30 s', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 20].map((f) => backoffMs(f, policy)),
      [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000],
    );
  });
});
