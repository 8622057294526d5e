/**
 * Golden tests of the Pod mutation (Istio's testdata/inject model): every fixture in
 * test/fixtures/pods is mutated, the patch is applied with a real JSON-Patch implementation
 * (fast-json-patch, operation validation on), and the result must equal
 * test/golden/pods/<name>.yaml. Refresh with `UPDATE_GOLDEN=1`; a golden whose fixture is
 * gone fails the run (or is deleted on refresh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import fjp from 'fast-json-patch';
import { parse, stringify } from 'yaml';
import type { Pod } from '../../src/admission/k8s.ts';
import { mutatePod } from '../../src/mutate/mutate.ts';
import { SIDECAR_NAME } from '../../src/mutate/sidecar.ts';
import { testBaseline } from '../support/baseline.ts';
import { BASELINE_FOR, BINDINGS_FILE, FIXTURES_DIR, GOLDEN_DIR, fixtureBindings, loadPodFixture } from './fixtures.ts';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
const VERSION = '0.1.0';

const fixtures = readdirSync(FIXTURES_DIR)
  .filter((f) => f.endsWith('.yaml') && f !== BINDINGS_FILE)
  .sort();
const identity = fixtureBindings();

function applyPatch(pod: Pod, patch: fjp.Operation[]): Pod {
  // validateOperation = true: an add under a missing parent or a bad index throws, as on the API server.
  return fjp.applyPatch(structuredClone(pod), patch, true, false).newDocument;
}

for (const file of fixtures) {
  const name = file.replace(/\.yaml$/, '');
  test(`golden: ${name}`, () => {
    const { pod, namespace } = loadPodFixture(file);
    const baseline = testBaseline(BASELINE_FOR[name]);
    const ctx = { baseline, identity, namespace, version: VERSION };

    const result = mutatePod(pod, ctx);
    assert.deepEqual(pod, loadPodFixture(file).pod, 'mutatePod must not modify its input');
    for (const op of result.patch) assert.notEqual(op.path, '', 'never a whole-object replace');
    const out = applyPatch(pod, result.patch as fjp.Operation[]);
    const sidecars = [...(out.spec?.initContainers ?? []), ...(out.spec?.containers ?? [])].filter((c) => c.name === SIDECAR_NAME);
    assert.ok(sidecars.length <= 1, 'never a second sidecar');
    if (name.startsWith('already-injected')) {
      assert.deepEqual(result.patch, [], 'a Pod already injected (whatever was added to its sidecar) needs no change');
      assert.equal(sidecars.length, 1);
    }

    const goldenPath = `${GOLDEN_DIR}${name}.yaml`;
    if (UPDATE) writeFileSync(goldenPath, stringify(out));
    assert.ok(existsSync(goldenPath), `missing golden ${goldenPath}: run with UPDATE_GOLDEN=1`);
    assert.deepEqual(out, parse(readFileSync(goldenPath, 'utf8')), `${name}: patched Pod differs from its golden file`);

    const again = mutatePod(out, ctx);
    assert.deepEqual(again.patch, [], `${name}: mutating the mutated Pod must change nothing`);
    assert.equal(again.injected, false, 'a reinvocation never injects');
  });
}

test('golden: no stale golden files', () => {
  const wanted = new Set(fixtures);
  const stale = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.yaml') && !wanted.has(f));
  if (UPDATE) for (const f of stale) unlinkSync(GOLDEN_DIR + f);
  else assert.deepEqual(stale, [], 'golden files without a fixture: delete them or run with UPDATE_GOLDEN=1');
});
