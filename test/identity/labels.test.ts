/**
 * Group → label encoding (docs/design.md#identity-labels): tables of tricky groups, and properties
 * over generated ones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { encodeGroup, groupLabelKey, parseListAnnotation } from '../../src/identity/labels.ts';

/** Kubernetes label name part (apimachinery validation.IsQualifiedName, name part). */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const hash10 = (g: string) => createHash('sha256').update(g, 'utf8').digest('hex').slice(0, 10);

describe('encodeGroup', () => {
  const cases: Array<{ name: string; group: string; label: string }> = [
    { name: 'a valid name is kept', group: 'payments-writers', label: 'payments-writers' },
    { name: 'dots and underscores are valid', group: 'team_a.readers', label: 'team_a.readers' },
    { name: 'exactly 63 valid characters are kept', group: 'a'.repeat(63), label: 'a'.repeat(63) },
    { name: 'a slash (Keycloak group path) is replaced and hashed', group: '/payments/writers', label: `payments-writers-${hash10('/payments/writers')}` },
    { name: 'runs of invalid characters collapse to one -', group: 'payments :: writers', label: `payments-writers-${hash10('payments :: writers')}` },
    { name: 'non-ASCII letters are invalid', group: 'équipe-paiements', label: `quipe-paiements-${hash10('équipe-paiements')}` },
    { name: 'nothing readable leaves only the hash', group: '管理者', label: hash10('管理者') },
    { name: 'the empty group is only a hash', group: '', label: hash10('') },
    { name: 'a valid name over 63 characters is shortened and hashed', group: 'x'.repeat(64), label: `${'x'.repeat(52)}-${hash10('x'.repeat(64))}` },
    { name: 'a valid name with a leading - is not valid', group: '-admins', label: `admins-${hash10('-admins')}` },
    {
      name: 'the cut never leaves a trailing - or .',
      group: `${'a'.repeat(51)}.${'b'.repeat(20)}/`,
      label: `${'a'.repeat(51)}-${hash10(`${'a'.repeat(51)}.${'b'.repeat(20)}/`)}`,
    },
    { name: 'an Azure AD object id is kept', group: '0b5ee7a4-3c4e-4a5b-9a6f-1f2e3d4c5b6a', label: '0b5ee7a4-3c4e-4a5b-9a6f-1f2e3d4c5b6a' },
    { name: 'a Cognito group with a colon', group: 'cognito:admins', label: `cognito-admins-${hash10('cognito:admins')}` },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const label = encodeGroup(c.group);
      assert.equal(label, c.label);
      assert.match(label, LABEL_NAME);
      assert.ok(label.length <= 63, `${label.length} characters`);
    });
  }

  it('keeps colliding-looking groups apart', () => {
    const lookalikes = [
      'payments-writers',
      'payments/writers',
      'payments writers',
      'payments--writers',
      'Payments-Writers',
      '/payments-writers',
      'payments-writers/',
      'payments\u2010writers',
    ];
    const labels = lookalikes.map(encodeGroup);
    assert.equal(new Set(labels).size, lookalikes.length, labels.join(' '));
    for (const l of labels) assert.match(l, LABEL_NAME);
  });

  it('two long groups differing only at the end get different labels', () => {
    const a = `${'segment/'.repeat(10)}readers`;
    const b = `${'segment/'.repeat(10)}writers`;
    assert.notEqual(encodeGroup(a), encodeGroup(b));
    assert.equal(encodeGroup(a).slice(0, 40), encodeGroup(b).slice(0, 40));
  });

  it('always gives a valid label name of at most 63 characters (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ minLength: 60, maxLength: 200 })), (group) => {
        const label = encodeGroup(group);
        return LABEL_NAME.test(label) && label.length <= 63 && encodeGroup(group) === label;
      }),
      { numRuns: 2000 },
    );
  });

  it('gives distinct groups distinct labels (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('a/b', 'a-b', 'a b', 'a_b', 'a.b', 'A-B')), { minLength: 2, maxLength: 50 }),
        (groups) => {
          return new Set(groups.map(encodeGroup)).size === groups.length;
        },
      ),
      { numRuns: 500 },
    );
  });

  it('groupLabelKey prefixes group.idgate.dev/', () => {
    assert.equal(groupLabelKey('payments-writers'), 'group.idgate.dev/payments-writers');
    assert.equal(groupLabelKey('a/b'), `group.idgate.dev/a-b-${hash10('a/b')}`);
  });
});

describe('parseListAnnotation (idgate.dev/groups, idgate.dev/bindings)', () => {
  const cases: Array<[string, string | undefined, string[] | 'invalid' | undefined]> = [
    ['absent', undefined, undefined],
    ['the injector’s JSON list, sorted', '["payments-writers","ledger-readers"]', ['ledger-readers', 'payments-writers']],
    ['a JSON list keeps commas inside names', '["a,b","c"]', ['a,b', 'c']],
    ['an empty JSON list', '[]', []],
    ['a hand-written comma list, spaces trimmed', ' payments-writers, ledger-readers ', ['ledger-readers', 'payments-writers']],
    ['the bindings comma list', 'payments/api,payments/admins', ['payments/admins', 'payments/api']],
    ['empty: no names', '', []],
    ['broken JSON', '[payments', 'invalid'],
    ['a JSON list of something else', '[1, 2]', 'invalid'],
  ];
  for (const [name, value, expected] of cases) it(name, () => assert.deepEqual(parseListAnnotation(value), expected));
});
