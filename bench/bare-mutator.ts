/**
 * The goals' yardstick (issue 16's "bare server"): a bare node:https webhook doing the same
 * mutation as idgate, written as a single-purpose webhook would be by hand. Per request it reads
 * the body, JSON.parses it and, for a Pod CREATE on `/mutate/...`, computes from the request the
 * identity labels and annotations (docs/design.md#identity-labels) and the sidecar, its token
 * volume and mounts (docs/design.md#mutation), then JSON.stringifies and base64-encodes the
 * patch. The groups come from a Map built at start-up from the bindings file idgate loads; the
 * configuration (examples/baseline.yaml's issuer, sidecar image, port, audience, resources) is
 * hard-coded, as such a webhook would have it. No rule evaluation: on the validating routes it
 * answers `allowed: true` without a patch, as the floor (bench/bare-server.ts) does.
 *
 * Its answers are not trusted to match idgate's: {@link answerDifference} applies both patches
 * to the request's object and compares the results (test/bench/bare-mutator.test.ts, and
 * bench/run.ts and bench/ab.ts before they load anything).
 * Usage: node bench/bare-mutator.ts CERT_DIR BINDINGS_FILE  (prints the port on stdout)
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import type { Binding, ServiceAccountIdentity } from '../src/identity/types.ts';
import { type BareReview, listenAndReport, reviewServer } from './bare-server.ts';

/** examples/baseline.yaml's trustedIssuers: bindings of any other issuer grant nothing. */
const TRUSTED_ISSUER = 'https://keycloak.example.com/realms/prod';
const VERSION = '0.1.0';
const PROXY_PORT = 4180;
const AUDIENCE = 'idgate';
const TOKEN_VOLUME = {
  name: 'idgate-token',
  projected: { sources: [{ serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 3600, path: 'token' } }] },
};
const TOKEN_MOUNT = { name: 'idgate-token', mountPath: '/var/run/secrets/idgate.dev/token', readOnly: true };
const PROBE = { httpGet: { path: '/healthz', port: 'idgate-proxy', scheme: 'HTTP' }, timeoutSeconds: 1, successThreshold: 1 };
/** The sidecar without its per-request `args`: a native sidecar (init container, restartPolicy Always). */
const SIDECAR = {
  name: 'idgate-proxy',
  image: `registry.example.com/idgate:${VERSION}`,
  ports: [{ name: 'idgate-proxy', containerPort: PROXY_PORT, protocol: 'TCP' }],
  startupProbe: { ...PROBE, periodSeconds: 1, failureThreshold: 30 },
  readinessProbe: { ...PROBE, periodSeconds: 5, failureThreshold: 2 },
  resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 65532,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  },
  restartPolicy: 'Always',
};

/** The fields of an OIDCGroupBinding the mutation needs (idgate's type, erased at run time: the bare mutator runs none of idgate's code). */
export type BareBinding = Binding;

/** What `namespace/serviceAccount` is given: its groups and the `namespace/name` of the bindings giving them, both sorted. */
export type BareIdentity = Pick<ServiceAccountIdentity, 'groups' | 'bindings'>;

/** Identities by `namespace/serviceAccount`. */
export type Identities = ReadonlyMap<string, BareIdentity>;

/** The OIDCGroupBindings of a multi-document YAML file (bench/fixtures.ts's bindingsYaml). */
export function bindingsOfYaml(text: string): BareBinding[] {
  return parseAllDocuments(text).map((doc) => {
    const { metadata, spec } = doc.toJS() as { metadata: { namespace: string; name: string }; spec: Omit<BareBinding, 'namespace' | 'name'> };
    return { namespace: metadata.namespace, name: metadata.name, ...spec };
  });
}

/** The identity of every ServiceAccount some binding of the trusted issuer names. */
export function identities(bindings: Iterable<BareBinding>): Identities {
  const found = new Map<string, { groups: Set<string>; bindings: string[] }>();
  for (const b of bindings) {
    if (b.issuer !== TRUSTED_ISSUER) continue;
    for (const sa of b.serviceAccounts) {
      const key = `${b.namespace}/${sa}`;
      const entry = found.get(key) ?? { groups: new Set(), bindings: [] };
      for (const g of b.groups) entry.groups.add(g);
      entry.bindings.push(`${b.namespace}/${b.name}`);
      found.set(key, entry);
    }
  }
  return new Map([...found].map(([key, e]) => [key, { groups: [...e.groups].sort(), bindings: e.bindings.sort() }]));
}

interface BarePod {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    containers: { name: string; ports?: { containerPort: number }[]; volumeMounts?: unknown[] }[];
    volumes?: unknown[];
    initContainers?: unknown[];
  };
}

const pointerKey = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** `add` ops putting `entries` into the map at `path`: one per key if it exists, else the whole map. */
function addToMap(ops: Operation[], path: string, current: object | undefined, entries: Record<string, string>): void {
  if (current === undefined) ops.push({ op: 'add', path, value: entries });
  else for (const [k, v] of Object.entries(entries)) ops.push({ op: 'add', path: `${path}/${pointerKey(k)}`, value: v });
}

/** An `add` op appending `item` to the list at `path`, or creating it. */
function addToList(ops: Operation[], path: string, current: unknown[] | undefined, item: unknown): void {
  ops.push(current === undefined ? { op: 'add', path, value: [item] } : { op: 'add', path: `${path}/-`, value: item });
}

/** The JSON Patch idgate's mutation gives this Pod of `namespace` (without idgate's handling of spoofed keys, opt-outs or other injectors). */
export function mutationPatch(pod: BarePod, namespace: string, known: Identities): Operation[] {
  const sa = pod.spec.serviceAccountName ?? 'default';
  const identity = known.get(`${namespace}/${sa}`) ?? { groups: [], bindings: [] };
  const labels: Record<string, string> = {};
  for (const g of identity.groups) labels[`group.idgate.dev/${g}`] = 'true';
  labels['idgate.dev/service-account'] = sa;
  const app = pod.spec.containers[0]!;
  const ops: Operation[] = [];
  addToMap(ops, '/metadata/labels', pod.metadata?.labels, labels);
  addToMap(ops, '/metadata/annotations', pod.metadata?.annotations, {
    'idgate.dev/bindings': identity.bindings.join(','),
    'idgate.dev/groups': JSON.stringify(identity.groups),
    'idgate.dev/injected': VERSION,
    'idgate.dev/upstream-container': app.name,
  });
  addToList(ops, '/spec/volumes', pod.spec.volumes, TOKEN_VOLUME);
  pod.spec.containers.forEach((c, i) => {
    addToList(ops, `/spec/containers/${i}/volumeMounts`, c.volumeMounts, TOKEN_MOUNT);
  });
  const allowed = (pod.metadata?.annotations?.['idgate.dev/allowed-groups'] ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const args = [
    'proxy',
    `--listen=0.0.0.0:${PROXY_PORT}`,
    `--upstream=http://127.0.0.1:${app.ports?.[0]?.containerPort}`,
    `--issuer=${TRUSTED_ISSUER}`,
    `--audience=${AUDIENCE}`,
    ...(allowed.length > 0 ? [`--allowed-groups=${allowed.join(',')}`] : []),
  ];
  addToList(ops, '/spec/initContainers', pod.spec.initContainers, { ...SIDECAR, args });
  return ops;
}

/** The AdmissionReview `response` for a review sent to `path`. */
export function bareAnswer(review: BareReview, path: string, known: Identities): Record<string, unknown> {
  const r = review.request as { uid: string; kind?: { kind?: string }; operation?: string; namespace: string; object: BarePod };
  if (!path.startsWith('/mutate/') || r.kind?.kind !== 'Pod' || r.operation !== 'CREATE') return { uid: r.uid, allowed: true };
  const patch = Buffer.from(JSON.stringify(mutationPatch(r.object, r.namespace, known))).toString('base64');
  return { uid: r.uid, allowed: true, patchType: 'JSONPatch', patch };
}

export interface Answer {
  response: { uid?: string; allowed?: boolean; patchType?: string; patch?: string };
}

/**
 * Why two answers to the review `body` are not equivalent, or undefined when they are: same
 * uid and `allowed`, and their patches (none counts as empty) applied to the request's object
 * give deep-equal objects, whatever the order of the ops or of the keys.
 */
export function answerDifference(body: string, a: Answer, b: Answer): string | undefined {
  for (const field of ['uid', 'allowed', 'patchType'] as const) {
    if (a.response[field] !== b.response[field]) return `${field}: ${JSON.stringify(a.response[field])} vs ${JSON.stringify(b.response[field])}`;
  }
  const object = (JSON.parse(body) as BareReview).request.object;
  const patched = (answer: Answer) => {
    const ops = answer.response.patch ? (JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')) as Operation[]) : [];
    return jsonpatch.applyPatch(structuredClone(object), ops, true, false).newDocument;
  };
  const [x, y] = [patched(a), patched(b)];
  if (isDeepStrictEqual(x, y)) return undefined;
  const keys = (o: unknown) => (typeof o === 'object' && o !== null ? Object.keys(o) : []);
  const differing = (p: unknown, q: unknown, at: string): string => {
    const key = [...new Set([...keys(p), ...keys(q)])].find((k) => !isDeepStrictEqual((p as Record<string, unknown>)[k], (q as Record<string, unknown>)[k]));
    return key === undefined ? at : differing((p as Record<string, unknown>)[key], (q as Record<string, unknown>)[key], `${at}/${pointerKey(key)}`);
  };
  return `the patched objects differ at ${differing(x, y, '') || '/'}`;
}

/**
 * For the benches, before they load anything: ends the process (status 1, ending its servers
 * through its exit handlers) when the bare mutator's answer to `scenario` is not equivalent to
 * idgate's, since the ratios would then compare different work.
 */
export function exitUnlessEquivalent(scenario: string, body: string, idgate: Answer, bare: Answer): void {
  const difference = answerDifference(body, idgate, bare);
  if (difference === undefined) return;
  console.error(`${scenario}: the bare mutator's answer is not equivalent to idgate's (${difference}); fix bench/bare-mutator.ts before measuring`);
  process.exit(1);
}

if (import.meta.main) {
  const [dir = 'certs', bindingsFile = 'bindings.yaml'] = process.argv.slice(2);
  const known = identities(bindingsOfYaml(readFileSync(bindingsFile, 'utf8')));
  listenAndReport(reviewServer(dir, (review, path) => bareAnswer(review, path, known)));
}
