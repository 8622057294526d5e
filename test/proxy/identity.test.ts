/** The identity-header encoding (identity.ts): what apps receive, and what is refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeGroupsHeader, encodeIdentityValue, identityFrom, MAX_IDENTITY_HEADER_BYTES } from '../../src/proxy/identity.ts';

describe('encodeIdentityValue', () => {
  const cases: Array<[string, string]> = [
    ['payments', 'payments'],
    ['system:serviceaccount:shop:web', 'system:serviceaccount:shop:web'],
    ['alice@example.com', 'alice@example.com'],
    ['/team/admins', '/team/admins'],
    ['team-a,cluster-admins', 'team-a%2Ccluster-admins'],
    ['a\r\nb', 'a%0D%0Ab'],
    ['José', 'Jos%C3%A9'],
    ['a b+c%', 'a%20b%2Bc%25'],
  ];
  for (const [value, encoded] of cases) {
    it(`${JSON.stringify(value)} → ${encoded}, and back`, () => {
      assert.equal(encodeIdentityValue(value), encoded);
      assert.equal(decodeURIComponent(encoded), value);
    });
  }
  it('refuses ill-formed Unicode instead of throwing', () => assert.equal(encodeIdentityValue('a\ud800'), undefined));
});

describe('identityFrom', () => {
  it('encodes subject and groups, keeping the raw values for the allow-list', () => {
    assert.deepEqual(identityFrom({ sub: 'José', groups: ['a,b', 'c'] }, 'groups'), {
      ok: true,
      subject: 'José',
      groups: ['a,b', 'c'],
      headers: { subject: 'Jos%C3%A9', groups: 'a%2Cb,c' },
    });
    assert.deepEqual(decodeGroupsHeader('a%2Cb,c'), ['a,b', 'c']);
    assert.deepEqual(decodeGroupsHeader(''), []);
  });
  const refused: Array<[string, Record<string, unknown>]> = [
    ['sub an array', { sub: ['a', 'b'] }],
    ['sub a number', { sub: 1 }],
    ['sub missing', {}],
    ['groups an object', { sub: 'a', groups: { x: 1 } }],
    ['groups with a number', { sub: 'a', groups: ['x', 2] }],
    ['a subject too long once encoded', { sub: ','.repeat(MAX_IDENTITY_HEADER_BYTES / 3 + 1) }],
  ];
  for (const [name, payload] of refused) {
    it(`refuses ${name}`, () => assert.equal(identityFrom(payload, 'groups').ok, false));
  }
});
