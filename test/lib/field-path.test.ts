/** The one field-path type (src/lib/field-path.ts): renders as the rules' paths always have. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FieldPath } from '../../src/lib/field-path.ts';

describe('lib/field-path', () => {
  const cases: Array<[string, FieldPath, string]> = [
    ['the root', FieldPath.root(), ''],
    ['fields and an index', FieldPath.root('spec').child('containers').index(0).child('image'), 'spec.containers[0].image'],
    ['a map key in brackets', FieldPath.root('metadata', 'labels').key('group.idgate.dev/x'), 'metadata.labels[group.idgate.dev/x]'],
    ['a key that reads as a field still in brackets', FieldPath.root('metadata', 'labels').key('app'), 'metadata.labels[app]'],
    ['a prefix joined to a path', FieldPath.root('spec', 'template').concat(FieldPath.root('spec', 'hostNetwork')), 'spec.template.spec.hostNetwork'],
    ['under the root', FieldPath.root().child('spec').index(2), 'spec[2]'],
    ['segments: field names dotted', FieldPath.of(['sidecar', 'port']), 'sidecar.port'],
    ['segments: other keys in brackets', FieldPath.of(['rules', 'my.rule', 'mode']), 'rules[my.rule].mode'],
    ['segments: indices', FieldPath.of(['trustedIssuers', 0]), 'trustedIssuers[0]'],
    ['segments: dashes are field names', FieldPath.of(['namespaces', 'payments-prod']), 'namespaces.payments-prod'],
  ];
  for (const [name, path, text] of cases) it(name, () => assert.equal(path.toString(), text));

  it('keeps the keys and indices to walk', () => {
    assert.deepEqual(FieldPath.root('spec').child('groups').index(1).segments, ['spec', 'groups', 1]);
    assert.deepEqual(FieldPath.root('metadata', 'labels').key('a.b/c').segments, ['metadata', 'labels', 'a.b/c']);
  });

  it('is immutable: extending a path leaves it as it was', () => {
    const base = FieldPath.root('spec');
    base.child('x');
    assert.equal(base.toString(), 'spec');
  });
});
