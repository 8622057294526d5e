/** The one YAML reader with line numbers (src/lib/yaml.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FieldPath } from '../../src/lib/field-path.ts';
import { parseYamlDocument, parseYamlDocuments } from '../../src/lib/yaml.ts';

const TEXT = ['a: 1', 'spec:', '  groups:', '    - x', '    - y', '  name: n', ''].join('\n');

describe('lib/yaml', () => {
  it('finds the line of a path, given as segments or as a FieldPath', () => {
    const doc = parseYamlDocument(TEXT);
    assert.deepEqual(doc.errors, []);
    assert.deepEqual(doc.value(), { a: 1, spec: { groups: ['x', 'y'], name: 'n' } });
    assert.equal(doc.lineOf(['spec', 'groups', 1]), 5);
    assert.equal(doc.lineOf(FieldPath.root('spec').child('groups').index(1)), 5);
    assert.equal(doc.lineOf(FieldPath.root('spec', 'name')), 6);
  });

  it('points a missing field at its nearest present parent, and a key at its own line', () => {
    const doc = parseYamlDocument(TEXT);
    assert.equal(doc.lineOf(['spec', 'missing', 'deeper']), 3, 'the spec mapping starts on the line of its first key');
    assert.equal(doc.lineOf(['spec'], 'name'), 6);
    assert.equal(doc.lineOf([]), 1);
  });

  it('reports syntax errors with their line, the first line of the message only', () => {
    const doc = parseYamlDocument('a: 1\nb: [unclosed\n');
    assert.ok(doc.errors.length > 0);
    assert.ok(doc.errors.every((e) => !e.message.includes('\n')));
    assert.ok(doc.errors.some((e) => e.line >= 2));
    assert.ok(parseYamlDocument('a: 1\n---\nb: 2\n').errors.length > 0, 'one document only');
  });

  it('reads a stream document by document, each with its own lines', () => {
    const docs = [...parseYamlDocuments('a: 1\n---\n# only a comment\n---\nb:\n  c: 2\n')];
    assert.deepEqual(
      docs.map((d) => d.value()),
      [{ a: 1 }, null, { b: { c: 2 } }],
    );
    assert.equal(docs[2]?.lineOf(['b', 'c']), 6);
  });
});
