import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimAt, groupsAllowed, groupsAt } from '../../src/proxy/claims.ts';

describe('groupsAt', () => {
  const cases: Array<{ name: string; payload: unknown; path: string; want: string[] | undefined }> = [
    { name: 'plain groups array', payload: { groups: ['a', 'b'] }, path: 'groups', want: ['a', 'b'] },
    { name: 'Keycloak realm_access.roles', payload: { realm_access: { roles: ['admin'] } }, path: 'realm_access.roles', want: ['admin'] },
    { name: 'Cognito: the colon is part of the key', payload: { 'cognito:groups': ['ops'] }, path: 'cognito:groups', want: ['ops'] },
    { name: 'Auth0 namespaced claim: dots inside the key', payload: { 'https://example.com/groups': ['x'] }, path: 'https://example.com/groups', want: ['x'] },
    { name: 'dotted key nested under an object', payload: { ns: { 'a.b': ['y'] } }, path: 'ns.a.b', want: ['y'] },
    { name: 'literal dotted key wins over the nested path', payload: { 'a.b': ['lit'], a: { b: ['nested'] } }, path: 'a.b', want: ['lit'] },
    { name: 'a single string is one group', payload: { groups: 'solo' }, path: 'groups', want: ['solo'] },
    { name: 'empty strings are dropped', payload: { groups: ['a', ''] }, path: 'groups', want: ['a'] },
    { name: 'a non-string in the array: unknown groups', payload: { groups: ['a', 1] }, path: 'groups', want: undefined },
    { name: 'null is no groups', payload: { groups: null }, path: 'groups', want: [] },
    { name: 'a number is not groups', payload: { groups: 7 }, path: 'groups', want: undefined },
    { name: 'missing claim', payload: { sub: 'x' }, path: 'groups', want: [] },
    { name: 'path through a non-object', payload: { realm_access: 'nope' }, path: 'realm_access.roles', want: [] },
    { name: 'an object is not groups', payload: { groups: { a: true } }, path: 'groups', want: undefined },
    { name: 'inherited keys are not claims', payload: {}, path: 'constructor', want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(groupsAt(c.payload, c.path), c.want));
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
