/**
 * Scope (docs/design.md#scope-by-path): renders the enforce and audit overlays with `kubectl kustomize` and
 * decides, as kube-apiserver would (rules, namespaceSelector, objectSelector, matchConditions
 * evaluated with a CEL implementation), which idgate webhooks each request reaches. Every row
 * runs in an enrolled namespace, a plain one and kube-system, and must reach exactly the listed
 * webhooks; so must the AdmissionReviews a real Kubernetes 1.32 API server sent
 * (../shared/k8s-recorded/reviews, namespace `payments`, read once as enrolled, once as plain).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { conditionErrors, objectSelected, rulesMatch, selects, webhooksCalled } from '../support/admission-routing.ts';
import { ROWS, type Row } from './scope-rows.ts';
import { recordedReviews } from '../support/recorded.ts';

type Obj = Record<string, any>;

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const M = 'pods.mutate.idgate.dev';
const B = 'baseline.validate.idgate.dev';
const I = 'integrity.validate.idgate.dev';

async function webhookConfigs(overlay: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', `manifests/overlays/${overlay}`], { cwd: ROOT, maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter((o) => o?.kind?.endsWith('WebhookConfiguration'));
}

/** The labels the API server puts on a Namespace, plus enrolment. */
function namespaceLabels(name: string, enrolled: boolean): Record<string, string> {
  return { 'kubernetes.io/metadata.name': name, ...(enrolled ? { 'idgate.dev/inject': 'enabled' } : {}) };
}

/** The request in namespace `ns` (object, oldObject and request.namespace all moved there). */
function inNamespace(request: Obj, ns: string): Obj {
  const move = (o: Obj | null | undefined) => (o ? { ...o, metadata: { ...o.metadata, namespace: ns } } : o);
  return { ...request, namespace: ns, object: move(request.object), oldObject: move(request.oldObject) };
}

/** Expected webhooks for a recorded review, by file name; exactly one pattern must match each file. */
const RECORDED_EXPECTED: ReadonlyArray<[RegExp, enrolled: string[], plain: string[]]> = [
  [/-pods-create-/, [B, M], []],
  // kubectl label --subresource=status: adds group.idgate.dev/admins.
  [/-pods-status-update-/, [B], [I]],
  // A non-identity label only; the spec is unchanged.
  [/-pods-update-/, [], []],
  [/-(deployments|replicasets|networkpolicies|oidcgroupbindings)-create-/, [B], []],
  [/-oidcgroupbindings-update-/, [B], []],
  // kubectl scale: deployments/scale, not deployments.
  [/-deployments-scale-update-/, [], []],
  // The garbage collector removing foregroundDeletion from a Deployment being deleted.
  [/-deployments-update-web-by-generic-garbage-collector/, [], []],
  // The deployment controller setting spec.replicas.
  [/-replicasets-update-/, [], []],
  [/-delete-/, [], []],
];

/** The validating webhook's recordings: the requests as they reach validation. */
function validateReviews(): Array<{ file: string; request: Obj }> {
  return recordedReviews()
    .filter((r) => r.webhook === 'validate')
    .map((r) => ({ file: r.file, request: r.review.request }));
}

describe('the API server model the scope test relies on', () => {
  it('label selectors: matchLabels and In/NotIn/Exists/DoesNotExist, NotIn holding for an absent key', () => {
    const labels = { a: '1', b: '2' };
    const cases: Array<[Parameters<typeof selects>[0], boolean]> = [
      [undefined, true],
      [{}, true],
      [{ matchLabels: { a: '1' } }, true],
      [{ matchLabels: { a: '2' } }, false],
      [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '3'] }] }, true],
      [{ matchExpressions: [{ key: 'c', operator: 'In', values: ['1'] }] }, false],
      [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, false],
      [{ matchExpressions: [{ key: 'c', operator: 'NotIn', values: ['1'] }] }, true],
      [{ matchExpressions: [{ key: 'b', operator: 'Exists' }] }, true],
      [{ matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }, false],
      [{ matchLabels: { a: '1' }, matchExpressions: [{ key: 'c', operator: 'Exists' }] }, false],
    ];
    for (const [selector, expected] of cases) assert.equal(selects(selector, labels), expected, JSON.stringify(selector));
  });

  it('rules: a resource never matches its subresources unless listed, and objectSelector looks at old and new', () => {
    const hook = { rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods', '*/scale'] }] };
    const req = (resource: string, subResource?: string) => ({
      operation: 'UPDATE',
      namespace: 'x',
      resource: { group: '', version: 'v1', resource },
      ...(subResource ? { subResource } : {}),
    });
    assert.equal(rulesMatch(hook, req('pods')), true);
    assert.equal(rulesMatch(hook, req('pods', 'status')), false);
    assert.equal(rulesMatch(hook, req('replicationcontrollers', 'scale')), true);
    assert.equal(rulesMatch(hook, { ...req('pods'), operation: 'CREATE' }), false);
    const selected = { objectSelector: { matchLabels: { a: '1' } } };
    assert.equal(objectSelected(selected, { object: null, oldObject: { metadata: { labels: { a: '1' } } } }), true);
    assert.equal(objectSelected(selected, { object: { metadata: {} }, oldObject: null }), false);
  });
});

for (const overlay of ['enforce', 'audit'] as const) {
  describe(`webhook scope, ${overlay} overlay`, async () => {
    const configs = await webhookConfigs(overlay);
    const hooks = configs.flatMap((c) => c.webhooks as Obj[]);

    it('has the three webhooks of the scope model on their paths', () => {
      assert.deepEqual(hooks.map((h) => [h.name, h.clientConfig.service.path]).sort(), [
        [B, '/validate'],
        [I, '/validate/integrity'],
        [M, '/mutate/pods'],
      ]);
      // Integrity fails closed everywhere: it only receives requests that touch identity keys.
      assert.equal(hooks.find((h) => h.name === I)!.failurePolicy, 'Fail');
    });

    const cases: Array<{ row: Row; ns: string; enrolled: boolean; expected: readonly string[] }> = [];
    for (const row of ROWS) {
      cases.push({ row, ns: 'payments', enrolled: true, expected: row.enrolled });
      cases.push({ row, ns: 'monitoring', enrolled: false, expected: row.plain });
      for (const ns of ['kube-system', 'idgate-system']) {
        cases.push({ row, ns, enrolled: true, expected: [] }, { row, ns, enrolled: false, expected: [] });
      }
    }
    for (const { row, ns, enrolled, expected } of cases) {
      it(`${row.name} in ${ns} (${enrolled ? 'enrolled' : 'plain'}) → ${expected.join(', ') || 'nothing'}`, () => {
        const request = inNamespace(row.request, ns);
        assert.deepEqual(webhooksCalled(configs, request, namespaceLabels(ns, enrolled)), [...expected].sort());
      });
    }

    it('every matchCondition of every webhook a row matches evaluates to a bool, without error', () => {
      const errors: string[] = [];
      for (const { row } of cases) {
        for (const hook of hooks) if (rulesMatch(hook, row.request)) errors.push(...conditionErrors(hook, row.request).map((e) => `${row.name}: ${e}`));
      }
      assert.deepEqual(errors, []);
    });

    it('the example namespaces: a Pod in the enrolled one is mutated and judged, in the plain one left alone', () => {
      const namespaces = parseAllDocuments(readFileSync(join(ROOT, 'examples/manifests/namespaces.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
      const pod = parseAllDocuments(readFileSync(join(ROOT, 'examples/manifests/pod-good.yaml'), 'utf8'))[0]!.toJS() as Obj;
      const called = Object.fromEntries(
        namespaces.map((ns) => {
          const name = ns.metadata.name as string;
          const labels = { ...ns.metadata.labels, 'kubernetes.io/metadata.name': name };
          const request = inNamespace({ ...ROWS[0]!.request, object: pod }, name);
          return [name, webhooksCalled(configs, request, labels)];
        }),
      );
      assert.deepEqual(called, { payments: [B, M], monitoring: [] });
    });

    const recorded = validateReviews();
    it('routes the reviews a real API server sent, namespace enrolled and plain', () => {
      assert.ok(recorded.length >= 25, `${recorded.length} recorded reviews validating-webhook recordings`);
      let checked = 0;
      for (const { file, request } of recorded) {
        const matches = RECORDED_EXPECTED.filter(([pattern]) => pattern.test(file));
        assert.equal(matches.length, 1, `${file}: ${matches.length} expectations match; add exactly one`);
        const [, enrolledHooks, plainHooks] = matches[0]!;
        for (const [enrolled, expected] of [
          [true, enrolledHooks],
          [false, plainHooks],
        ] as const) {
          const labels = namespaceLabels(request.namespace, enrolled);
          assert.deepEqual(webhooksCalled(configs, request, labels), [...expected].sort(), `${file} (${enrolled ? 'enrolled' : 'plain'})`);
          for (const hook of hooks) if (rulesMatch(hook, request)) assert.deepEqual(conditionErrors(hook, request), [], file);
          checked++;
        }
      }
      console.log(`# ${overlay}: ${recorded.length} recorded reviews routed as enrolled and as plain (${checked} checks)`);
    });
  });
}
