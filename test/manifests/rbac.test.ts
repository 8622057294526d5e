/**
 * The RBAC in manifests/ grants exactly what idgate does (docs/design.md#identity-controller): every request the
 * controllers send to a (fake) API server during a full run is authorized by the rendered
 * ClusterRole/Role bindings of idgate's ServiceAccount, and the writes idgate must never make
 * are not. RBAC is evaluated here as the API server's RBAC authorizer does: a rule matches by
 * API group, resource and verb, and by resourceNames when it has them (which a create never
 * matches; a list or watch only with a metadata.name field selector).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startFakeApiServer, type FakeApiServer, type RecordedRequest } from '../support/fake-apiserver.ts';
import { silentLogger } from '../support/logger.ts';
import { eventually } from '../support/eventually.ts';
import { DEFAULT_DENY_NAME } from '../../src/controller/default-deny.ts';
import { LEASE_NAME } from '../../src/kube/lease-client.ts';
import { RecordingMetrics, binding, groupsOf, labelledPod, namespace, startCluster, type Cluster } from '../controller/harness.ts';

type Obj = Record<string, any>;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { stdout } = await promisify(execFile)('kubectl', ['kustomize', 'manifests/overlays/enforce'], { cwd: ROOT, maxBuffer: 16 << 20 });
const objs = parseAllDocuments(stdout)
  .map((d) => d.toJS() as Obj)
  .filter(Boolean);
const SA = { kind: 'ServiceAccount', name: 'idgate', namespace: 'idgate-system' };

/** An API request as the authorizer sees it. */
interface Attributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
}

/** The roles bound to idgate's ServiceAccount: [rules, namespace the grant is limited to (undefined: cluster)]. */
function grants(): Array<{ rules: Obj[]; namespace: string | undefined; role: string }> {
  const out: Array<{ rules: Obj[]; namespace: string | undefined; role: string }> = [];
  for (const b of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    if (!b.subjects?.some((s: Obj) => s.kind === SA.kind && s.name === SA.name && s.namespace === SA.namespace)) continue;
    const role = objs.find(
      (o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name && (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    assert.ok(role, `${b.kind} ${b.metadata.name} refers to a role the manifests do not ship`);
    out.push({ rules: role.rules, namespace: b.kind === 'RoleBinding' ? b.metadata.namespace : undefined, role: `${role.kind}/${role.metadata.name}` });
  }
  return out;
}

function allowed(a: Attributes): boolean {
  return grants().some(
    (g) =>
      (g.namespace === undefined || g.namespace === a.namespace) &&
      g.rules.some(
        (r) =>
          r.apiGroups.includes(a.group) &&
          r.resources.includes(a.resource) &&
          r.verbs.includes(a.verb) &&
          (!r.resourceNames?.length || (a.name !== undefined && r.resourceNames.includes(a.name))),
      ),
  );
}

/** The authorizer's attributes of a request the fake API server answered. */
function attributes(q: RecordedRequest): Attributes {
  const [group = '', , resource = ''] = (q.resource ?? '//').split('/');
  const fieldName = /(?:^|,)metadata\.name=([^,]+)/.exec(q.query.fieldSelector ?? '')?.[1];
  const verb =
    q.method === 'GET'
      ? q.name
        ? 'get'
        : q.watch
          ? 'watch'
          : 'list'
      : (({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[q.method] ?? q.method);
  return { verb, group, resource, namespace: q.namespace, name: q.name ?? fieldName };
}

const show = (a: Attributes) => `${a.verb} ${a.group || 'core'}/${a.resource}${a.namespace ? ` in ${a.namespace}` : ''}${a.name ? ` named ${a.name}` : ''}`;

describe('RBAC for the controllers', () => {
  let api: FakeApiServer;
  let cluster: Cluster;

  before(async () => {
    // A full run: start-up sweep, relabel after a binding change, a conflict re-read, default-deny
    // created, restored and removed, the Lease created, renewed and released.
    api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    api.seed([namespace('payments'), binding('payments', 'writers', ['payments-writers'], ['api'])]);
    for (let i = 0; i < 3; i++) api.create(labelledPod('payments', `api-${i}`, 'api', [], []));
    cluster = await startCluster(api, silentLogger);
    let conflict = true;
    const manager = cluster.manager({
      identity: 'replica-a',
      logger: silentLogger,
      metrics: new RecordingMetrics(),
      wrap: (apis) => ({
        ...apis,
        pods: {
          ...apis.pods,
          async patch(ns, name, patch) {
            if (conflict) {
              conflict = false;
              const pod = api.get({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: ns, name } })!;
              api.update({ ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, x: 'y' } } });
            }
            return apis.pods.patch(ns, name, patch);
          },
        },
      }),
    });
    manager.start();
    const policyRef = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'payments', name: DEFAULT_DENY_NAME } };
    await eventually(
      () => api.list('v1', 'Pod', 'payments').every((p) => groupsOf(p).length === 1) && api.get(policyRef) !== undefined,
      10_000,
      'first reconcile',
    );
    const policy = api.get(policyRef)!;
    api.update({ ...policy, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    await eventually(() => (api.get(policyRef)!.spec as Obj).podSelector.matchExpressions !== undefined, 10_000, 'restored');
    const ns = api.get(namespace('payments'))!;
    api.update({ ...ns, metadata: { ...ns.metadata, labels: {} } });
    await eventually(() => api.get(policyRef) === undefined, 10_000, 'removed');
    await manager.stop();
  });
  after(async () => {
    await cluster.stop();
    await api.close();
  });

  it('authorizes every request the controllers sent', () => {
    const sent = new Map<string, Attributes>();
    for (const q of api.requests.filter((r) => r.resource)) {
      const a = attributes(q);
      sent.set(show(a), a);
    }
    const shown = [...sent.keys()].sort();
    console.log(`requests sent during a full run:\n  ${shown.join('\n  ')}`);
    // The run must have exercised every kind of write, or this test proves little.
    for (const expected of [
      'patch core/pods in payments named api-0',
      'get core/pods in payments named api-0',
      'create networking.k8s.io/networkpolicies in payments',
      `update networking.k8s.io/networkpolicies in payments named ${DEFAULT_DENY_NAME}`,
      `delete networking.k8s.io/networkpolicies in payments named ${DEFAULT_DENY_NAME}`,
      `watch networking.k8s.io/networkpolicies named ${DEFAULT_DENY_NAME}`,
      'create coordination.k8s.io/leases in idgate-system',
      `update coordination.k8s.io/leases in idgate-system named ${LEASE_NAME}`,
    ])
      assert.ok(
        shown.some((s) => s.startsWith(expected.replace(/ named api-0$/, ''))),
        `the run sent no "${expected}"`,
      );
    const refused = [...sent.values()].filter((a) => !allowed(a)).map(show);
    assert.deepEqual(refused, [], 'requests the RBAC would refuse');
  });

  it('refuses what idgate must never do', () => {
    const never: Attributes[] = [
      { verb: 'update', group: '', resource: 'pods', namespace: 'payments', name: 'api-0' },
      { verb: 'delete', group: '', resource: 'pods', namespace: 'payments', name: 'api-0' },
      { verb: 'create', group: '', resource: 'pods', namespace: 'payments' },
      { verb: 'patch', group: 'networking.k8s.io', resource: 'networkpolicies', namespace: 'payments', name: 'allow-web' },
      { verb: 'update', group: 'networking.k8s.io', resource: 'networkpolicies', namespace: 'payments', name: 'allow-web' },
      { verb: 'delete', group: 'networking.k8s.io', resource: 'networkpolicies', namespace: 'payments', name: 'allow-web' },
      { verb: 'watch', group: 'networking.k8s.io', resource: 'networkpolicies' },
      { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'idgate-system', name: 'other-controller' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system', name: LEASE_NAME },
      { verb: 'list', group: 'coordination.k8s.io', resource: 'leases', namespace: 'idgate-system' },
      { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', namespace: 'idgate-system', name: LEASE_NAME },
    ];
    assert.deepEqual(never.filter(allowed).map(show), []);
  });

  it('grants the controllers exactly these rules', () => {
    const rulesFor = (resource: string) =>
      grants()
        .flatMap((g) =>
          g.rules
            .filter((r) => r.resources.includes(resource))
            .map(
              (r) =>
                `${g.role}${g.namespace ? `@${g.namespace}` : ''}: ${[...r.verbs].sort().join(',')}${r.resourceNames ? ` [${r.resourceNames.join(',')}]` : ''}`,
            ),
        )
        .sort();
    assert.deepEqual(rulesFor('pods'), ['ClusterRole/idgate: get,list,patch']);
    assert.deepEqual(rulesFor('networkpolicies'), [
      'ClusterRole/idgate: create',
      `ClusterRole/idgate: delete,update,watch [${DEFAULT_DENY_NAME}]`,
      'ClusterRole/idgate: get,list',
    ]);
    assert.deepEqual(rulesFor('leases'), ['Role/idgate-controller@idgate-system: create', `Role/idgate-controller@idgate-system: get,update [${LEASE_NAME}]`]);
    // SelfSubjectReviews come from system:basic-user, bound to every authenticated user.
    assert.deepEqual(rulesFor('selfsubjectreviews'), []);
  });
});
