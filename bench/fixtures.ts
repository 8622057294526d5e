/**
 * The requests the benchmark sends: AdmissionReviews of three Pod sizes, a NetworkPolicy and an
 * integrity-only review from a plain namespace, shaped like what a real API server sends
 * (controller-created pods, managedFields). Deterministic (fixed uids), so the byte-for-byte
 * answer test (test/golden/answers-bytes.test.ts) sends exactly these bodies too.
 */

type Obj = Record<string, unknown>;

let uids = 0;
/** A fixed, well-formed uid per call (the order of the calls below is fixed). */
function uid(): string {
  return `7a1d0c5e-0000-4000-8000-${String(++uids).padStart(12, '0')}`;
}

function container(i: number, withPort: boolean): Obj {
  return {
    name: i === 0 ? 'app' : `helper-${i}`,
    image: `registry.example.com/payments/app-${i}:1.${i}.0@sha256:${'ab'.repeat(32)}`,
    args: ['--log-format=json', `--listen=:${8080 + i}`, '--metrics'],
    env: [
      { name: 'APP_ENV', value: 'production' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ],
    ...(withPort ? { ports: [{ name: 'http', containerPort: 8080 + i, protocol: 'TCP' }] } : {}),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    readinessProbe: { httpGet: { path: '/ready', port: 8080 + i }, periodSeconds: 5 },
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
  };
}

/** A managedFields entry like the ones server-side apply records, ~`bytes` long. */
function managedFields(bytes: number): Obj[] {
  const entries: Obj[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const fields: Obj = {};
    for (let f = 0; f < 40; f++) fields[`f:field-${i}-${f}`] = { '.': {}, 'f:value': {} };
    const entry = {
      manager: `controller-${i}`,
      operation: 'Update',
      apiVersion: 'v1',
      time: '2026-11-29T08:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:spec': fields },
    };
    size += JSON.stringify(entry).length;
    entries.push(entry);
  }
  return entries;
}

function pod(containers: number, managedBytes: number, namespace = 'payments'): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'payments-api-7d9c6b5f4-',
      namespace,
      labels: { app: 'payments-api', 'pod-template-hash': '7d9c6b5f4', 'app.kubernetes.io/version': '1.4.2' },
      annotations: { 'idgate.dev/allowed-groups': 'payments-writers,payments-admins', 'prometheus.io/scrape': 'true' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'payments-api-7d9c6b5f4', uid: uid(), controller: true, blockOwnerDeletion: true }],
      ...(managedBytes > 0 ? { managedFields: managedFields(managedBytes) } : {}),
    },
    spec: {
      serviceAccountName: 'api',
      containers: Array.from({ length: containers }, (_, i) => container(i, true)),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  };
}

function reviewOf(object: Obj, kind: string, group: string, resource: string, namespace = 'payments'): Obj {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: uid(),
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource },
      requestKind: { group, version: 'v1', kind },
      requestResource: { group, version: 'v1', resource },
      namespace,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: uid(),
        groups: ['system:serviceaccounts', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

const networkPolicy: Obj = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'api-callers', namespace: 'payments' },
  spec: {
    podSelector: { matchLabels: { app: 'payments-api' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { 'group.idgate.dev/payments-writers': 'true' } } }], ports: [{ port: 4180, protocol: 'TCP' }] }],
  },
};

/** The benchmark's requests: [name, path, body]. */
export const SCENARIOS = {
  small: { path: '/mutate/pods', body: JSON.stringify(reviewOf(pod(1, 0), 'Pod', '', 'pods')) },
  typical: { path: '/mutate/pods', body: JSON.stringify(reviewOf(pod(3, 0), 'Pod', '', 'pods')) },
  large: { path: '/mutate/pods', body: JSON.stringify(reviewOf(pod(10, 52_000), 'Pod', '', 'pods')) },
  networkpolicy: { path: '/validate', body: JSON.stringify(reviewOf(networkPolicy, 'NetworkPolicy', 'networking.k8s.io', 'networkpolicies')) },
  /** The typical Pod created in a namespace not enrolled: identity integrity only (docs/design.md#scope-and-lifecycle). */
  integrity: { path: '/validate/integrity', body: JSON.stringify(reviewOf(pod(3, 0, 'shop'), 'Pod', '', 'pods', 'shop')) },
} as const;

export type ScenarioName = keyof typeof SCENARIOS;

/** `count` OIDCGroupBindings over 100 namespaces, as a multi-document YAML file. */
export function bindingsYaml(count: number): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const ns = i === 0 ? 'payments' : `team-${i % 100}`;
    docs.push(
      [
        'apiVersion: idgate.dev/v1alpha1',
        'kind: OIDCGroupBinding',
        `metadata: { name: binding-${i}, namespace: ${ns} }`,
        'spec:',
        '  issuer: https://keycloak.example.com/realms/prod',
        `  groups: [${i === 0 ? 'payments-writers, ledger-readers' : `group-${i}-a, group-${i}-b`}]`,
        `  serviceAccounts: [${i === 0 ? 'api' : `sa-${i}`}]`,
      ].join('\n'),
    );
  }
  return `${docs.join('\n---\n')}\n`;
}
