/** stale.ts: stale identity (idgate's own labels, outdated bindings) told apart from spoofing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { staleFinding, staleIdentity } from '../../src/audit/stale.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { identityLabels } from '../../src/mutate/identity.ts';
import type { Pod } from '../../src/admission/k8s.ts';
import { TEST_ISSUER, testBaseline } from '../support/baseline.ts';

const baseline = testBaseline();
const index = new BindingIndex();
index.upsert({ namespace: 'payments', name: 'api', issuer: TEST_ISSUER, groups: ['payments-writers'], serviceAccounts: ['api'] });
index.markSynced();

const pod = (groups: string[], bindings: string, extraLabels: Record<string, string> = {}, annotate = true): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'api-1',
    namespace: 'payments',
    labels: { app: 'api', ...identityLabels('api', groups), ...extraLabels },
    annotations: annotate ? { 'idgate.dev/groups': JSON.stringify(groups), 'idgate.dev/bindings': bindings } : {},
  },
  spec: { serviceAccountName: 'api', containers: [{ name: 'app' }] },
});

describe('staleIdentity', () => {
  const cases: Array<{ name: string; pod: Pod; stale: boolean }> = [
    { name: 'labels as the bindings give them now', pod: pod(['payments-writers'], 'payments/api'), stale: false },
    { name: 'a group revoked since the Pod started', pod: pod(['payments-admins', 'payments-writers'], 'payments/api,payments/admins'), stale: true },
    { name: 'same groups, from a since-renamed binding', pod: pod(['payments-writers'], 'payments/old-name'), stale: true },
    {
      name: 'a label the annotation does not account for (spoofed)',
      pod: pod(['payments-writers'], 'payments/api', { 'group.idgate.dev/admins': 'true' }),
      stale: false,
    },
    { name: 'no idgate.dev/groups annotation (not written by idgate)', pod: pod(['payments-admins'], '', {}, false), stale: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(staleIdentity(c.pod, 'payments', { baseline, identity: index }) !== undefined, c.stale);
    });
  }

  it('reports what was revoked, never denies, and is reported in every mode (pod-identity-labels is always enforced)', () => {
    const stale = staleIdentity(pod(['payments-admins', 'payments-writers'], 'payments/api,payments/admins'), 'payments', { baseline, identity: index });
    assert.ok(stale);
    assert.deepEqual(stale.currentGroups, ['payments-writers']);
    const ref = { apiVersion: 'v1', kind: 'Pod', name: 'api-1', namespace: 'payments' };
    const finding = staleFinding(ref, stale, baseline);
    assert.equal(finding?.denies, false);
    assert.equal(finding?.stale, true);
    assert.match(finding?.message ?? '', /revoked: payments-admins/);
    const inAuditNamespace = staleFinding(ref, stale, testBaseline({ mode: 'off', namespaces: { payments: { mode: 'off' } } }));
    assert.equal(inAuditNamespace?.mode, 'enforce', 'no mode switches integrity reporting off');
  });
});
