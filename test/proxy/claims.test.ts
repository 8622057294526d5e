import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimAt, groupsAllowed, groupsFrom } from '../../src/proxy/claims.ts';

describe('groupsFrom', () => {
  const cases: Array<{ name: string; payload: unknown; path: string; want: string[] }> = [
    { name: 'plain groups array', payload: { groups: ['a', 'b'] }, path: 'groups', want: ['a', 'b'] },
    { name: 'Keycloak realm_access.roles', payload: { realm_access: { roles: ['admin'] } }, path: 'realm_access.roles', want: ['admin'] },
    { name: 'Cognito: the colon is part of the key', payload: { 'cognito:groups': ['ops'] }, path: 'cognito:groups', want: ['ops'] },
    { name: 'Auth0 namespaced claim: dots inside the key', payload: { 'https://example.com/groups': ['x'] }, path: 'https://example.com/groups', want: ['x'] },
    { name: 'dotted key nested under an object', payload: { ns: { 'a.b': ['y'] } }, path: 'ns.a.b', want: ['y'] },
    { name: 'literal dotted key wins over the nested path', payload: { 'a.b': ['lit'], a: { b: ['nested'] } }, path: 'a.b', want: ['lit'] },
    { name: 'a single string is one group', payload: { groups: 'solo' }, path: 'groups', want: ['solo'] },
    { name: 'non-strings are dropped', payload: { groups: ['a', 1, null, '', { x: 1 }] }, path: 'groups', want: ['a'] },
    { name: 'missing claim', payload: { sub: 'x' }, path: 'groups', want: [] },
    { name: 'path through a non-object', payload: { realm_access: 'nope' }, path: 'realm_access.roles', want: [] },
    { name: 'an object is not groups', payload: { groups: { a: true } }, path: 'groups', want: [] },
    { name: 'inherited keys are not claims', payload: {}, path: 'constructor', want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(groupsFrom(c.payload, c.path), c.want));
  }
});

describe('claimAt', () => {
  it('falls back to a longer prefix when a shorter one leads nowhere', () => {
    assert.deepEqual(claimAt({ a: { x: 1 }, 'a.b': { c: 2 } }, 'a.b.c'), 2);
  });
  it('returns undefined for a non-object payload', () => {
    assert.equal(claimAt(['groups'], '0'), undefined);
  });
});

describe('groupsAllowed', () => {
  it('allows every caller when no groups are required', () => assert.equal(groupsAllowed([], []), true));
  it('allows when any one allowed group is held', () => assert.equal(groupsAllowed(['b', 'c'], ['a', 'c']), true));
  it('refuses when none is held', () => assert.equal(groupsAllowed(['b'], ['a', 'c']), false));
  it('is case-sensitive, as group names are', () => assert.equal(groupsAllowed(['Admins'], ['admins']), false));
});
