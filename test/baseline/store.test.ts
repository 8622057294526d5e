import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, symlink, mkdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createBaselineStore } from '../../src/baseline/store.ts';
import type { BaselineError } from '../../src/baseline/config.ts';

const logger = pino({ level: 'silent' });
const baselineText = (mode: string): string =>
  [
    'apiVersion: idgate.dev/v1alpha1',
    'kind: IdentityBaseline',
    `mode: ${mode}`,
    'trustedIssuers: [https://keycloak.example.com/realms/prod]',
    'sidecar: { image: registry.example.com/idgate:0.1.0 }',
    '',
  ].join('\n');

/** Polls until `check` holds; fails after the deadline (no timing assertions, only a bound). */
async function eventually(check: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a changed file takes effect without restart; an invalid one keeps the last good baseline', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'idgate-store-'));
  const file = join(dir, 'baseline.yaml');
  await writeFile(file, baselineText('enforce'));
  const reloads: Array<[boolean, BaselineError | undefined]> = [];
  const store = createBaselineStore({ file, logger, debounceMs: 20, pollMs: 200, onReload: (ok, err) => reloads.push([ok, err]) });
  try {
    assert.equal(store.current().mode, 'enforce');

    await writeFile(file, baselineText('audit'));
    await eventually(() => store.current().mode === 'audit', 'mode audit in force');
    await eventually(() => reloads.length >= 1, 'onReload(true)');
    assert.deepEqual(reloads[0], [true, undefined]);

    await writeFile(file, baselineText('loud'));
    await eventually(() => reloads.some(([ok]) => !ok), 'onReload(false)');
    const failed = reloads.find(([ok]) => !ok);
    assert.equal(failed?.[1]?.code, 'ERR_BASELINE_INVALID');
    assert.match(failed?.[1]?.message ?? '', /baseline\.yaml:3: mode: must be one of: enforce, audit, off/);
    assert.equal(store.current().mode, 'audit', 'the last good baseline stays in force');

    // The failure is reported once, not on every poll of the same content.
    const count = reloads.length;
    await store.reload();
    assert.equal(reloads.length, count);
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a ConfigMap-style ..data symlink swap is picked up', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'idgate-store-cm-'));
  // The kubelet's layout: baseline.yaml -> ..data/baseline.yaml, ..data -> ..<timestamp>.
  await mkdir(join(dir, '..v1'));
  await writeFile(join(dir, '..v1', 'baseline.yaml'), baselineText('enforce'));
  await symlink('..v1', join(dir, '..data'));
  await symlink('..data/baseline.yaml', join(dir, 'baseline.yaml'));
  const file = join(dir, 'baseline.yaml');
  const store = createBaselineStore({ file, logger, debounceMs: 20, pollMs: 0 });
  try {
    assert.equal(store.current().mode, 'enforce');
    await mkdir(join(dir, '..v2'));
    await writeFile(join(dir, '..v2', 'baseline.yaml'), baselineText('off'));
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await eventually(() => store.current().mode === 'off', 'mode off after the symlink swap');
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an invalid file at start-up is fatal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'idgate-store-bad-'));
  const file = join(dir, 'baseline.yaml');
  await writeFile(file, baselineText('loud'));
  try {
    assert.throws(() => createBaselineStore({ file, logger }), { name: 'BaselineError', code: 'ERR_BASELINE_INVALID' });
    assert.throws(() => createBaselineStore({ file: join(dir, 'missing.yaml'), logger }), { code: 'ERR_BASELINE_READ' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
