/**
 * pod-sidecar through evaluate(): what the modes make of its findings (the rule tables in
 * test/fixtures/rules/pod/sidecar*.yaml cover the findings themselves).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/baseline/evaluate.ts';
import { testBaseline } from '../support/baseline.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { TEST_ISSUER } from '../support/baseline.ts';

function fixtureIdentity(): BindingIndex {
  const index = new BindingIndex();
  index.upsert({ namespace: 'payments', name: 'api-writers', issuer: TEST_ISSUER, groups: ['payments-writers'], serviceAccounts: ['api'] });
  index.setNamespace('payments', { 'idgate.dev/inject': 'enabled' });
  index.markSynced();
  return index;
}

const pod = (spec: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'api-', namespace: 'payments', labels: { app: 'api' } },
  spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }], ...spec },
});

const sidecarVerdict = (mutation: 'apply' | 'dry-run', spec: Record<string, unknown> = {}) => {
  const decision = evaluate(
    { kind: 'Pod', operation: 'CREATE', namespace: 'payments', object: pod(spec) },
    { baseline: testBaseline({ mode: 'enforce', mutation }), identity: fixtureIdentity() },
  );
  return decision.violations.filter((v) => v.rule === 'pod-sidecar');
};

test('mutation: dry-run with mode: enforce reports the sidecar it did not add, and denies nothing for it', () => {
  const [dry] = sidecarVerdict('dry-run');
  assert.equal(dry?.denies, false, 'a warning, not a denial');
  assert.equal(dry?.warnOnly, true);
  assert.match(dry?.message ?? '', /mutation: dry-run/);
  const [applied] = sidecarVerdict('apply');
  assert.equal(applied?.denies, true, 'with mutation: apply the same Pod is denied');
});

test('mutation: dry-run still denies a Pod idgate could not inject at all (as apply would)', () => {
  const [clash] = sidecarVerdict('dry-run', { initContainers: [{ name: 'mesh', restartPolicy: 'Always', ports: [{ containerPort: 4180 }] }] });
  assert.equal(clash?.denies, true);
  assert.match(clash?.message ?? '', /proxy port 4180 is already a port of init container "mesh"/);
});
