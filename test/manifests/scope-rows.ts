/**
 * The request table of scope.test.ts: what the cluster's users and controllers send, and which
 * idgate webhooks must see it in an enrolled and in a plain namespace (docs/design.md#scope-and-lifecycle). Every
 * row also runs in the exempt namespaces, where nothing may be called.
 */
import { review } from '../support/review.ts';

type Obj = Record<string, any>;

/** One request and the webhooks it must reach. */
export interface Row {
  readonly name: string;
  /** An AdmissionRequest as the API server builds it (converted to unstructured: no empty fields). */
  readonly request: Obj;
  readonly enrolled: readonly string[];
  readonly plain: readonly string[];
}

const M = 'pods.mutate.idgate.dev';
const B = 'baseline.validate.idgate.dev';
const I = 'integrity.validate.idgate.dev';

const NAMESPACE_CONTROLLER = 'system:serviceaccount:kube-system:namespace-controller';
const GARBAGE_COLLECTOR = 'system:serviceaccount:kube-system:generic-garbage-collector';
const DEPLOYMENT_CONTROLLER = 'system:serviceaccount:kube-system:deployment-controller';
const KUBELET = 'system:node:node-1';
const DELETING = { deletionTimestamp: '2026-11-30T12:00:00Z', deletionGracePeriodSeconds: 30 };

/** What an injected Pod carries (the mutation's output). */
const IDENTITY_LABELS = { 'idgate.dev/service-account': 'api', 'group.idgate.dev/payments-writers': 'true' };
const IDENTITY_ANNOTATIONS = { 'idgate.dev/groups': '["payments-writers"]', 'idgate.dev/bindings': 'payments/writers', 'idgate.dev/injected': '0.1.0' };

function meta(labels: Obj = {}, annotations: Obj = {}, extra: Obj = {}): Obj {
  return {
    name: 'api',
    namespace: 'payments',
    uid: '6f1c',
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...extra,
  };
}

function pod(labels: Obj = { app: 'api' }, annotations: Obj = {}, opts: { image?: string; extra?: Obj; sa?: string; phase?: string } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(labels, annotations, opts.extra),
    spec: {
      serviceAccountName: opts.sa ?? 'api',
      containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }],
      initContainers: [{ name: 'idgate-proxy', image: opts.image ?? 'registry.example.com/idgate:0.1.0', restartPolicy: 'Always' }],
    },
    status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

const template = (labels: Obj = { app: 'web' }, annotations: Obj = {}, image = 'web:1'): Obj => ({
  metadata: { labels, ...(Object.keys(annotations).length ? { annotations } : {}) },
  spec: { serviceAccountName: 'web', containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
});

function workload(kind: string, tmpl: Obj = template(), opts: { replicas?: number; extra?: Obj; schedule?: string } = {}): Obj {
  const spec =
    kind === 'CronJob'
      ? { schedule: opts.schedule ?? '*/5 * * * *', jobTemplate: { spec: { template: tmpl } } }
      : { ...(opts.replicas === undefined ? {} : { replicas: opts.replicas }), selector: { matchLabels: { app: 'web' } }, template: tmpl };
  return { apiVersion: kind.endsWith('Job') ? 'batch/v1' : 'apps/v1', kind, metadata: meta({ app: 'web' }, {}, { name: 'web', ...opts.extra }), spec };
}

const networkPolicy = (): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta({}, {}, { name: 'idgate-default-deny' }),
  spec: { podSelector: { matchExpressions: [{ key: 'idgate.dev/service-account', operator: 'Exists' }] }, policyTypes: ['Ingress'] },
});

/** An AdmissionRequest; `subResource` only when there is one, as the API server's unstructured form has it. */
function request(
  kind: string,
  operation: 'CREATE' | 'UPDATE' | 'DELETE',
  object: Obj | null,
  oldObject: Obj | null,
  opts: { subResource?: string; username?: string; resource?: string } = {},
): Obj {
  const group =
    kind === 'Pod' ? '' : kind === 'NetworkPolicy' ? 'networking.k8s.io' : kind.endsWith('Job') ? 'batch' : kind === 'OIDCGroupBinding' ? 'idgate.dev' : 'apps';
  const version = kind === 'OIDCGroupBinding' ? 'v1alpha1' : 'v1';
  const r = review({
    kind,
    group,
    version,
    resource: opts.resource ?? `${kind.toLowerCase()}s`,
    operation,
    namespace: 'payments',
    name: (object ?? oldObject)?.metadata?.name,
    object,
    oldObject,
    username: opts.username ?? 'jane@example.com',
  }).request as Obj;
  return opts.subResource ? { ...r, subResource: opts.subResource, requestSubResource: opts.subResource } : r;
}

const injected = (extraLabels: Obj = {}, annotations: Obj = IDENTITY_ANNOTATIONS, opts = {}) =>
  pod({ app: 'api', ...IDENTITY_LABELS, ...extraLabels }, annotations, opts);
const ready = (p: Obj, status: string): Obj => ({ ...p, status: { ...p.status, conditions: [{ type: 'Ready', status }] } });

export const ROWS: readonly Row[] = [
  // Pods being created.
  { name: 'Pod CREATE', request: request('Pod', 'CREATE', pod(), null), enrolled: [M, B], plain: [] },
  {
    name: 'monitoring Pod on the default ServiceAccount, host network',
    request: request(
      'Pod',
      'CREATE',
      {
        ...pod({ app: 'node-exporter' }, {}, { sa: 'default' }),
        spec: { serviceAccountName: 'default', hostNetwork: true, containers: [{ name: 'exporter', image: 'node-exporter:1' }] },
      },
      null,
    ),
    enrolled: [M, B],
    plain: [],
  },
  {
    name: 'Pod CREATE with a spoofed group label',
    request: request('Pod', 'CREATE', pod({ app: 'x', 'group.idgate.dev/admins': 'true' }), null),
    enrolled: [M, B],
    plain: [I],
  },
  {
    name: 'Pod CREATE with a spoofed idgate.dev/groups annotation',
    request: request('Pod', 'CREATE', pod({ app: 'x' }, { 'idgate.dev/groups': '["admins"]' }), null),
    enrolled: [M, B],
    plain: [I],
  },
  {
    name: 'Pod CREATE with injector instructions only',
    request: request('Pod', 'CREATE', pod({ app: 'x' }, { 'idgate.dev/upstream-port': '8080', 'idgate.dev/inject': 'false' }), null),
    enrolled: [M, B],
    plain: [],
  },
  {
    name: 'mirror Pod CREATE',
    request: request('Pod', 'CREATE', pod({ 'group.idgate.dev/admins': 'true' }, { 'kubernetes.io/config.mirror': 'abc' }), null, { username: KUBELET }),
    enrolled: [],
    plain: [],
  },
  { name: 'Pod DELETE', request: request('Pod', 'DELETE', null, injected()), enrolled: [], plain: [] },

  // The kubelet's status writes, and status writes that change identity keys.
  {
    name: 'kubelet pods/status UPDATE of an injected Pod, no label change',
    request: request('Pod', 'UPDATE', ready(injected(), 'False'), injected(), { subResource: 'status', username: KUBELET }),
    enrolled: [],
    plain: [],
  },
  {
    name: 'kubelet pods/status UPDATE of a plain Pod',
    request: request('Pod', 'UPDATE', ready(pod(), 'False'), pod(), { subResource: 'status', username: KUBELET }),
    enrolled: [],
    plain: [],
  },
  {
    name: 'pods/status UPDATE adding a group label',
    request: request('Pod', 'UPDATE', pod({ app: 'api', 'group.idgate.dev/admins': 'true' }), pod(), { subResource: 'status' }),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'pods/status UPDATE changing a group label value',
    request: request('Pod', 'UPDATE', injected({ 'group.idgate.dev/payments-writers': 'false' }), injected(), { subResource: 'status' }),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'pods/status UPDATE removing idgate.dev/groups',
    request: request('Pod', 'UPDATE', injected({}, { 'idgate.dev/bindings': 'payments/writers', 'idgate.dev/injected': '0.1.0' }), injected(), {
      subResource: 'status',
    }),
    enrolled: [B],
    plain: [I],
  },

  // Pod UPDATEs.
  { name: 'Pod UPDATE adding an ordinary label', request: request('Pod', 'UPDATE', injected({ tier: 'web' }), injected()), enrolled: [], plain: [] },
  {
    name: 'Pod UPDATE adding an injector annotation',
    request: request('Pod', 'UPDATE', injected({}, { ...IDENTITY_ANNOTATIONS, 'idgate.dev/allowed-groups': 'a' }), injected()),
    enrolled: [],
    plain: [],
  },
  {
    name: 'Pod UPDATE swapping the sidecar image',
    request: request('Pod', 'UPDATE', injected({}, IDENTITY_ANNOTATIONS, { image: 'evil:1' }), injected()),
    enrolled: [B],
    plain: [],
  },
  {
    name: 'Pod UPDATE removing a group label',
    request: request('Pod', 'UPDATE', pod({ app: 'api', 'idgate.dev/service-account': 'api' }, IDENTITY_ANNOTATIONS), injected()),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'Pod UPDATE adding a group label to a Pod without labels',
    request: request('Pod', 'UPDATE', pod({ 'group.idgate.dev/admins': 'true' }), pod({})),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'Pod UPDATE relabelling a terminating Pod (still selected by policies for its grace period)',
    request: request(
      'Pod',
      'UPDATE',
      injected({ 'group.idgate.dev/admins': 'true' }, IDENTITY_ANNOTATIONS, { extra: DELETING }),
      injected({}, IDENTITY_ANNOTATIONS, { extra: DELETING }),
    ),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'finalizer removal on a terminating Pod',
    request: request(
      'Pod',
      'UPDATE',
      injected({}, IDENTITY_ANNOTATIONS, { extra: DELETING }),
      injected({}, IDENTITY_ANNOTATIONS, { extra: { ...DELETING, finalizers: ['example.com/drain'] } }),
      { username: GARBAGE_COLLECTOR },
    ),
    enrolled: [],
    plain: [],
  },

  // Workloads.
  { name: 'Deployment CREATE', request: request('Deployment', 'CREATE', workload('Deployment'), null), enrolled: [B], plain: [] },
  {
    name: 'Deployment CREATE with an identity label in its template',
    request: request('Deployment', 'CREATE', workload('Deployment', template({ app: 'web', 'idgate.dev/service-account': 'admin' })), null),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'Deployment CREATE with a template without metadata',
    request: request('Deployment', 'CREATE', workload('Deployment', { spec: template().spec }), null),
    enrolled: [B],
    plain: [],
  },
  {
    name: 'StatefulSet CREATE with an identity annotation in its template',
    request: request('StatefulSet', 'CREATE', workload('StatefulSet', template({ app: 'web' }, { 'idgate.dev/injected': 'x' })), null),
    enrolled: [B],
    plain: [I],
  },
  { name: 'DaemonSet CREATE', request: request('DaemonSet', 'CREATE', workload('DaemonSet'), null), enrolled: [B], plain: [] },
  {
    name: 'Job CREATE with a group label in its template',
    request: request('Job', 'CREATE', workload('Job', template({ 'group.idgate.dev/x': 'true' })), null),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'deployments/scale UPDATE',
    request: request(
      'Deployment',
      'UPDATE',
      { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: meta({}, {}, { name: 'web' }), spec: { replicas: 0 } },
      { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: meta({}, {}, { name: 'web' }), spec: { replicas: 3 } },
      { subResource: 'scale' },
    ),
    enrolled: [],
    plain: [],
  },
  {
    name: 'ReplicaSet replicas 3→0 by the deployment controller',
    request: request('ReplicaSet', 'UPDATE', workload('ReplicaSet', template(), { replicas: 0 }), workload('ReplicaSet', template(), { replicas: 3 }), {
      username: DEPLOYMENT_CONTROLLER,
    }),
    enrolled: [],
    plain: [],
  },
  {
    name: 'Deployment template change',
    request: request('Deployment', 'UPDATE', workload('Deployment', template({ app: 'web' }, {}, 'web:2')), workload('Deployment')),
    enrolled: [B],
    plain: [],
  },
  {
    name: 'Deployment template change removing an identity label',
    request: request('Deployment', 'UPDATE', workload('Deployment'), workload('Deployment', template({ app: 'web', 'group.idgate.dev/x': 'true' }))),
    enrolled: [B],
    plain: [I],
  },
  {
    name: 'finalizer removal on a deleting Deployment',
    request: request(
      'Deployment',
      'UPDATE',
      workload('Deployment', template(), { extra: DELETING }),
      workload('Deployment', template(), { extra: { ...DELETING, finalizers: ['foregroundDeletion'] } }),
      { username: GARBAGE_COLLECTOR },
    ),
    enrolled: [],
    plain: [],
  },
  {
    name: 'Deployment template change while it is being deleted',
    request: request(
      'Deployment',
      'UPDATE',
      workload('Deployment', template({ app: 'web' }, {}, 'web:2'), { extra: DELETING }),
      workload('Deployment', template(), { extra: { ...DELETING, finalizers: ['example.com/hold'] } }),
    ),
    enrolled: [],
    plain: [],
  },
  {
    name: 'ownerReference removal on a ReplicaSet whose template carries an old image',
    request: request(
      'ReplicaSet',
      'UPDATE',
      workload('ReplicaSet'),
      workload('ReplicaSet', template(), { extra: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: '1' }] } }),
      { username: GARBAGE_COLLECTOR },
    ),
    enrolled: [],
    plain: [],
  },
  {
    name: 'jobs/status UPDATE by the job controller',
    request: request('Job', 'UPDATE', workload('Job'), workload('Job'), { subResource: 'status' }),
    enrolled: [],
    plain: [],
  },
  {
    name: 'CronJob schedule change',
    request: request('CronJob', 'UPDATE', workload('CronJob', template(), { schedule: '0 * * * *' }), workload('CronJob')),
    enrolled: [],
    plain: [],
  },
  {
    name: 'CronJob template change',
    request: request('CronJob', 'UPDATE', workload('CronJob', template({ app: 'web' }, {}, 'web:2')), workload('CronJob')),
    enrolled: [B],
    plain: [],
  },
  {
    name: 'CronJob CREATE with an identity annotation in its job template',
    request: request('CronJob', 'CREATE', workload('CronJob', template({ app: 'web' }, { 'group.idgate.dev/x': 'true' })), null),
    enrolled: [B],
    plain: [I],
  },

  // NetworkPolicies and bindings.
  {
    name: 'NetworkPolicy CREATE',
    request: request('NetworkPolicy', 'CREATE', networkPolicy(), null, { resource: 'networkpolicies' }),
    enrolled: [B],
    plain: [],
  },
  {
    name: 'NetworkPolicy UPDATE by the namespace controller',
    request: request('NetworkPolicy', 'UPDATE', networkPolicy(), networkPolicy(), { resource: 'networkpolicies', username: NAMESPACE_CONTROLLER }),
    enrolled: [B],
    plain: [],
  },
  {
    name: 'NetworkPolicy DELETE by the namespace controller',
    request: request('NetworkPolicy', 'DELETE', null, networkPolicy(), { resource: 'networkpolicies', username: NAMESPACE_CONTROLLER }),
    enrolled: [],
    plain: [],
  },
  {
    name: 'NetworkPolicy DELETE by the garbage collector',
    request: request('NetworkPolicy', 'DELETE', null, networkPolicy(), { resource: 'networkpolicies', username: GARBAGE_COLLECTOR }),
    enrolled: [],
    plain: [],
  },
  {
    name: 'NetworkPolicy DELETE by a user',
    request: request('NetworkPolicy', 'DELETE', null, networkPolicy(), { resource: 'networkpolicies' }),
    enrolled: [B],
    plain: [],
  },
  {
    name: 'OIDCGroupBinding CREATE',
    request: request(
      'OIDCGroupBinding',
      'CREATE',
      {
        apiVersion: 'idgate.dev/v1alpha1',
        kind: 'OIDCGroupBinding',
        metadata: meta({}, {}, { name: 'writers' }),
        spec: { issuer: 'https://idp', groups: ['g'], serviceAccounts: ['api'] },
      },
      null,
    ),
    enrolled: [B],
    plain: [],
  },
];
