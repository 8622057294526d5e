/**
 * The default-deny decision, pure, and the policy itself judged by idgate's own baseline: the
 * policy idgate creates must pass every NetworkPolicy rule, and restoring it must be exactly
 * the change networkpolicy-default-deny calls weakening in reverse.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicy } from '../../src/admission/k8s.ts';
import { evaluate } from '../../src/baseline/evaluate.ts';
import { DEFAULT_DENY_NAME, decideDefaultDeny, defaultDenyPolicy, type DefaultDenyInput } from '../../src/controller/default-deny.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { matchLabels } from '../support/fake-apiserver/selectors.ts';
import { testBaseline } from '../support/baseline.ts';

const enrolled = { 'idgate.dev/inject': 'enabled', 'kubernetes.io/metadata.name': 'payments' };
const stored = (p: NetworkPolicy, rv = '7'): NetworkPolicy => ({ ...p, metadata: { ...p.metadata, resourceVersion: rv } });
const ours = stored(defaultDenyPolicy('payments'));

const cases: Array<{ name: string; input: Omit<DefaultDenyInput, 'namespace'>; expect: string }> = [
  { name: 'enrolled, none there: create', input: { namespaceLabels: enrolled, exempt: false, current: undefined }, expect: 'create' },
  { name: 'enrolled, ours in place: nothing', input: { namespaceLabels: enrolled, exempt: false, current: ours }, expect: 'none:in-place' },
  {
    name: "enrolled, in place with the API server's defaults (empty lists, other order): nothing",
    input: { namespaceLabels: enrolled, exempt: false, current: { ...ours, spec: { ...ours.spec, ingress: [], egress: [] } } },
    expect: 'none:in-place',
  },
  {
    name: 'enrolled, an ingress rule added: restore',
    input: { namespaceLabels: enrolled, exempt: false, current: { ...ours, spec: { ...ours.spec, ingress: [{ from: [{ podSelector: {} }] }] } } },
    expect: 'restore',
  },
  {
    name: 'enrolled, podSelector widened to every Pod: restore',
    input: { namespaceLabels: enrolled, exempt: false, current: { ...ours, spec: { ...ours.spec, podSelector: {} } } },
    expect: 'restore',
  },
  {
    name: "enrolled, someone else's policy of that name: taken over",
    input: { namespaceLabels: enrolled, exempt: false, current: stored({ metadata: { name: DEFAULT_DENY_NAME, namespace: 'payments' }, spec: ours.spec }) },
    expect: 'restore',
  },
  {
    name: 'left enrolment, ours there: delete',
    input: { namespaceLabels: { 'idgate.dev/inject': 'disabled' }, exempt: false, current: ours },
    expect: 'delete',
  },
  {
    name: "not enrolled, someone else's policy: left alone",
    input: { namespaceLabels: {}, exempt: false, current: stored({ metadata: { name: DEFAULT_DENY_NAME, namespace: 'payments' }, spec: {} }) },
    expect: 'none:not-ours',
  },
  {
    name: 'namespace gone: nothing (its policies go with it)',
    input: { namespaceLabels: undefined, exempt: false, current: ours },
    expect: 'none:not-enrolled',
  },
  { name: 'exempt, even if labelled: nothing', input: { namespaceLabels: enrolled, exempt: true, current: undefined }, expect: 'none:not-enrolled' },
];

describe('decideDefaultDeny', () => {
  for (const c of cases) {
    it(c.name, () => {
      const action = decideDefaultDeny({ namespace: 'payments', ...c.input });
      assert.equal(action.kind === 'none' ? `none:${action.reason}` : action.kind, c.expect);
      if (action.kind === 'restore') {
        assert.equal(action.policy.metadata?.resourceVersion, c.input.current?.metadata?.resourceVersion, 'precondition');
        assert.deepEqual(action.policy.spec, defaultDenyPolicy('payments').spec);
        assert.equal(action.policy.metadata?.labels?.['app.kubernetes.io/managed-by'], 'idgate');
        assert.equal(decideDefaultDeny({ namespace: 'payments', ...c.input, current: action.policy }).kind, 'none', 'restored is in place');
      }
      if (action.kind === 'delete') assert.equal(action.resourceVersion, '7');
    });
  }
});

describe('the policy', () => {
  const policy = defaultDenyPolicy('payments');
  const index = new BindingIndex();
  index.markSynced();
  const judge = (operation: 'CREATE' | 'UPDATE', object: NetworkPolicy, oldObject?: NetworkPolicy) =>
    evaluate(
      { kind: 'NetworkPolicy', operation, namespace: 'payments', object, ...(oldObject ? { oldObject } : {}) },
      { baseline: testBaseline(), identity: index },
    );

  it('selects exactly the injected Pods and admits no ingress', () => {
    assert.deepEqual(policy.spec, { podSelector: { matchExpressions: [{ key: 'idgate.dev/service-account', operator: 'Exists' }] }, policyTypes: ['Ingress'] });
    assert.equal(matchLabels({ 'idgate.dev/service-account': 'api', app: 'x' }, 'idgate.dev/service-account'), true);
    assert.equal(matchLabels({ app: 'monitoring' }, 'idgate.dev/service-account'), false);
  });

  it('passes every baseline rule on CREATE', () => {
    const d = judge('CREATE', policy);
    assert.deepEqual(d.violations, []);
    assert.equal(d.allowed, true);
  });

  it('an edit idgate restores is one networkpolicy-default-deny refuses', () => {
    const widened = { ...policy, spec: { ...policy.spec, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'x' } } }] }] } };
    assert.deepEqual(
      judge('UPDATE', widened, policy)
        .violations.map((v) => v.rule)
        .filter((r) => r === 'networkpolicy-default-deny'),
      ['networkpolicy-default-deny'],
    );
    assert.equal(decideDefaultDeny({ namespace: 'payments', namespaceLabels: enrolled, exempt: false, current: stored(widened) }).kind, 'restore');
  });
});
