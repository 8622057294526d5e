/**
 * The relabel decision, pure: a table of Pods and what their bindings give now, and the merge
 * patch that must come out. Every patch, applied with RFC 7386, must leave the Pod exactly as
 * the mutation would label it, and `idgate audit` must no longer find it stale.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../src/admission/k8s.ts';
import { isFinished, relabelPatch, serviceAccountSelector, summarizePatch } from '../../src/controller/relabel.ts';
import { staleIdentity } from '../../src/audit/stale.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { groupLabelKey } from '../../src/identity/labels.ts';
import { computeIdentity, desiredAnnotations, desiredLabels } from '../../src/mutate/identity.ts';
import { mergePatch } from '../support/fake-apiserver/store.ts';
import { TEST_ISSUER, testBaseline } from '../support/baseline.ts';

const labelled = (groups: string[], bindings: string[], extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Pod => {
  const identity = computeIdentity('api', { groups, bindings }, '0.1.0');
  return {
    metadata: {
      name: 'api-1',
      namespace: 'payments',
      resourceVersion: '42',
      labels: { app: 'api', ...identity.labels, ...extra.labels },
      annotations: { 'idgate.dev/upstream-port': '8080', ...identity.annotations, ...extra.annotations },
    },
    spec: { serviceAccountName: 'api', containers: [] },
  };
};

interface Case {
  readonly name: string;
  readonly pod: Pod;
  readonly now: { groups: string[]; bindings: string[] };
  /** Expected patch metadata (without resourceVersion), or undefined for none. */
  readonly patch: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> } | undefined;
}

const cases: Case[] = [
  {
    name: 'nothing changed: no patch',
    pod: labelled(['payments-writers'], ['payments/writers']),
    now: { groups: ['payments-writers'], bindings: ['payments/writers'] },
    patch: undefined,
  },
  {
    name: 'a binding deleted: the group label is removed with null, the annotations follow',
    pod: labelled(['ledger-readers', 'payments-writers'], ['payments/readers', 'payments/writers']),
    now: { groups: ['ledger-readers'], bindings: ['payments/readers'] },
    patch: {
      labels: { 'group.idgate.dev/payments-writers': null },
      annotations: { 'idgate.dev/groups': '["ledger-readers"]', 'idgate.dev/bindings': 'payments/readers' },
    },
  },
  {
    name: 'a group added: the label appears',
    pod: labelled([], []),
    now: { groups: ['ledger-readers'], bindings: ['payments/readers'] },
    patch: {
      labels: { 'group.idgate.dev/ledger-readers': 'true' },
      annotations: { 'idgate.dev/groups': '["ledger-readers"]', 'idgate.dev/bindings': 'payments/readers' },
    },
  },
  {
    name: 'a group whose name needs encoding gets the encoded key',
    pod: labelled([], []),
    now: { groups: ['Payments Admins'], bindings: ['payments/admins'] },
    patch: {
      labels: { [groupLabelKey('Payments Admins')]: 'true' },
      annotations: { 'idgate.dev/groups': '["Payments Admins"]', 'idgate.dev/bindings': 'payments/admins' },
    },
  },
  {
    name: 'a stray identity label (spoofed, or by hand) is removed; user labels stay',
    pod: labelled(['payments-writers'], ['payments/writers'], { labels: { 'group.idgate.dev/admins': 'true', team: 'a' } }),
    now: { groups: ['payments-writers'], bindings: ['payments/writers'] },
    patch: { labels: { 'group.idgate.dev/admins': null } },
  },
];

describe('relabelPatch', () => {
  for (const c of cases) {
    it(c.name, () => {
      const patch = relabelPatch(c.pod, c.now);
      if (c.patch === undefined) return assert.equal(patch, undefined);
      assert.ok(patch);
      const { resourceVersion, ...rest } = patch.metadata;
      assert.equal(resourceVersion, '42', 'the resourceVersion read is the precondition');
      assert.deepEqual(rest, c.patch);

      // Applied as the API server applies a merge patch, the Pod carries exactly what the mutation computes.
      const after = mergePatch(c.pod, patch) as Pod;
      const computed = computeIdentity('api', c.now, '0.1.0');
      assert.deepEqual(after.metadata?.labels, desiredLabels(c.pod.metadata?.labels, computed));
      assert.deepEqual(after.metadata?.annotations, desiredAnnotations(c.pod.metadata?.annotations, computed));
      assert.equal(relabelPatch(after, c.now), undefined, 'idempotent: a second pass patches nothing');
    });
  }

  it('keeps idgate.dev/injected as the Pod has it, and adds none to a Pod without a sidecar', () => {
    const pod = labelled(['a'], ['payments/a']);
    assert.equal(relabelPatch(pod, { groups: ['b'], bindings: ['payments/b'] })?.metadata.annotations?.['idgate.dev/injected'], undefined);
    const bare: Pod = {
      metadata: { name: 'x', namespace: 'payments', resourceVersion: '1', labels: { 'idgate.dev/service-account': 'api' } },
      spec: { serviceAccountName: 'api' },
    };
    const patch = relabelPatch(bare, { groups: [], bindings: [] });
    assert.deepEqual(patch?.metadata.annotations, { 'idgate.dev/groups': '[]', 'idgate.dev/bindings': '' });
    assert.equal(patch?.metadata.labels, undefined);
  });

  it('a relabelled Pod is no longer stale for idgate audit', () => {
    const index = new BindingIndex();
    index.upsert({ namespace: 'payments', name: 'readers', issuer: TEST_ISSUER, groups: ['ledger-readers'], serviceAccounts: ['api'] });
    index.markSynced();
    const ctx = { baseline: testBaseline(), identity: index };
    const pod = labelled(['ledger-readers', 'payments-writers'], ['payments/readers', 'payments/writers']);
    assert.ok(staleIdentity(pod, 'payments', ctx), 'stale before');
    const after = mergePatch(pod, relabelPatch(pod, index.resolve('payments', 'api', ctx.baseline.trustedIssuerSet))) as Pod;
    assert.equal(staleIdentity(after, 'payments', ctx), undefined);
  });

  it('summarizes added and removed label keys', () => {
    const patch = relabelPatch(labelled(['a'], ['payments/a']), { groups: ['b'], bindings: ['payments/b'] })!;
    assert.deepEqual(summarizePatch(patch), { added: ['group.idgate.dev/b'], removed: ['group.idgate.dev/a'] });
  });
});

describe('selection', () => {
  it('selects by the ServiceAccount label, encoded as the mutation encodes it', () => {
    assert.equal(serviceAccountSelector('api'), 'idgate.dev/service-account=api');
    const long = 'a'.repeat(70);
    assert.equal(
      serviceAccountSelector(long),
      `idgate.dev/service-account=${computeIdentity(long, undefined, undefined).labels['idgate.dev/service-account']}`,
    );
  });

  it('skips Pods that finished', () => {
    assert.equal(isFinished({ status: { phase: 'Succeeded' } } as Pod), true);
    assert.equal(isFinished({ status: { phase: 'Failed' } } as Pod), true);
    assert.equal(isFinished({ status: { phase: 'Running' } } as Pod), false);
    assert.equal(isFinished({} as Pod), false);
  });
});
