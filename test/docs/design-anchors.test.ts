/**
 * The repository documents itself: comments cite `docs/design.md#` and a section anchor, and a
 * citation is only worth something while the section exists. Every anchor cited under src/, test/, bench/,
 * manifests/ and examples/ must be a heading of docs/design.md, and no comment may cite the
 * specification outside the repository (`SPEC section N`, `SPEC §N`) again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOTS = ['src', 'test', 'bench', 'manifests', 'examples'];
const TEXT = /\.(ts|ya?ml|json|md)$/;
/** A comment line: TSDoc or block continuation, `//`, or a YAML `#`. */
const COMMENT = /^\s*(\*|\/\/|\/\*\*|#)/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && TEXT.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces as `-`. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

function designAnchors(): Set<string> {
  const headings = readFileSync('docs/design.md', 'utf8')
    .split('\n')
    .filter((l) => /^#{1,6} /.test(l));
  return new Set(headings.map((l) => anchorOf(l.replace(/^#+/, ''))));
}

describe('docs/design.md citations', () => {
  const files = ROOTS.flatMap(filesUnder);

  it('computes anchors as GitHub does', () => {
    assert.equal(anchorOf("The cluster's own writes are never refused"), 'the-clusters-own-writes-are-never-refused');
    assert.equal(anchorOf('Paths, not lookups, decide scope'), 'paths-not-lookups-decide-scope');
  });

  it('every cited anchor is a heading of docs/design.md', () => {
    const anchors = designAnchors();
    const cited: Array<{ file: string; anchor: string }> = [];
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/docs\/design\.md#([a-z0-9-]+)/g)) cited.push({ file, anchor: m[1]! });
    }
    const missing = cited.filter((c) => !anchors.has(c.anchor));
    console.log(`design citations: ${cited.length} in ${new Set(cited.map((c) => c.file)).size} files, ${missing.length} missing`);
    assert.ok(cited.length > 0, 'no citation found: the scan is broken');
    assert.deepEqual(missing, [], 'cite a heading that exists in docs/design.md, or add the section');
  });

  it('no comment cites the specification outside the repository', () => {
    const self = join('test', 'docs', 'design-anchors.test.ts');
    const stale = files
      .filter((file) => file !== self)
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, i) => ({ file, line: i + 1, text: line })),
      )
      .filter((l) => COMMENT.test(l.text) && /SPEC (section|§) ?\d/.test(l.text));
    assert.deepEqual(
      stale.map((l) => `${l.file}:${l.line}`),
      [],
      'cite docs/design.md#… instead',
    );
  });
});
