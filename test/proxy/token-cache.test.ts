import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenCache, tokenKey, type VerifiedIdentity } from '../../src/proxy/token-cache.ts';

const id = (subject: string, expiresAt: number): VerifiedIdentity => ({
  issuer: 'https://issuer',
  subject,
  groups: ['g'],
  headers: { subject, groups: 'g' },
  expiresAt,
});

describe('token cache', () => {
  it('keys by SHA-256, not by the token itself', () => {
    assert.equal(tokenKey('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('returns a cached identity until the token expires, and not after', () => {
    let now = 1_000;
    const cache = createTokenCache({ maxEntries: 10, clock: () => now });
    cache.set('t1', id('alice', 2_000));
    assert.equal(cache.get('t1')?.subject, 'alice');
    now = 1_999;
    assert.equal(cache.get('t1')?.subject, 'alice');
    now = 2_000;
    assert.equal(cache.get('t1'), undefined);
    assert.equal(cache.size, 0, 'expired entries are dropped on lookup');
  });

  it('never stores an already expired identity', () => {
    const cache = createTokenCache({ maxEntries: 10, clock: () => 5_000 });
    cache.set('old', id('bob', 5_000));
    assert.equal(cache.size, 0);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = createTokenCache({ maxEntries: 2, clock: () => 0 });
    cache.set('a', id('a', 10));
    cache.set('b', id('b', 10));
    assert.ok(cache.get('a')); // a is now more recent than b
    cache.set('c', id('c', 10));
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a')?.subject, 'a');
    assert.equal(cache.get('c')?.subject, 'c');
  });

  it('keeps the recency order when the most recent entry is looked up again, or expires', () => {
    let now = 0;
    const cache = createTokenCache({ maxEntries: 2, clock: () => now });
    cache.set('a', id('a', 10));
    cache.set('b', id('b', 5));
    assert.ok(cache.get('b')); // already the most recent
    assert.ok(cache.get('a')); // now a, then b is the least recent
    assert.ok(cache.get('a'));
    cache.set('c', id('c', 10));
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.equal(cache.get('a')?.subject, 'a');
    now = 10; // a and c expire; the most recent one (a) is dropped on lookup
    assert.equal(cache.get('a'), undefined);
    cache.set('d', id('d', 20));
    assert.ok(cache.get('d'));
    assert.equal(cache.size, 2, 'c (expired, not looked up) and d');
  });

  it('caches nothing when maxEntries is 0', () => {
    const cache = createTokenCache({ maxEntries: 0, clock: () => 0 });
    cache.set('a', id('a', 10));
    assert.equal(cache.get('a'), undefined);
  });
});
