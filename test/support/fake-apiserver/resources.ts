/**
 * The resources the fake API server knows, as discovery would describe them. Register more with
 * `startFakeApiServer({ resources })`; a request for an unknown resource gets 404 like a real server.
 */

/** One API resource: where it lives and what kind its objects are. */
export interface ResourceInfo {
  /** '' for the core group (`/api/v1`). */
  readonly group: string;
  readonly version: string;
  /** The plural in URLs, e.g. `oidcgroupbindings`. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /**
   * Served by a CustomResourceDefinition. The apiserver stores custom resources as unstructured
   * JSON, so their list items keep `kind` and `apiVersion` and the list's `metadata.continue` is
   * always present (`""` on the last page), as `../shared/k8s-recorded/api/oidcgroupbindings-list.json`
   * shows; built-in lists drop both from every item (`pods-list-page1.json`).
   */
  readonly custom?: boolean;
}

/** `group/version/resource` (core: `/v1/pods`), the store's key for a resource. */
export const resourceKey = (r: { group: string; version: string; resource: string }): string => `${r.group}/${r.version}/${r.resource}`;

/** `apiVersion` of a resource's objects. */
export const apiVersionOf = (r: { group: string; version: string }): string => (r.group ? `${r.group}/${r.version}` : r.version);

const core = (resource: string, kind: string, namespaced = true): ResourceInfo => ({ group: '', version: 'v1', resource, kind, namespaced });
const grouped = (group: string, version: string, resource: string, kind: string, namespaced = true): ResourceInfo => ({
  group,
  version,
  resource,
  kind,
  namespaced,
});
const custom = (group: string, version: string, resource: string, kind: string, namespaced = true): ResourceInfo => ({
  group,
  version,
  resource,
  kind,
  namespaced,
  custom: true,
});

/** What idgate and its tests touch: workloads, identity, certificates, webhooks, reports. */
export const BUILTIN_RESOURCES: readonly ResourceInfo[] = [
  core('namespaces', 'Namespace', false),
  core('pods', 'Pod'),
  core('secrets', 'Secret'),
  core('configmaps', 'ConfigMap'),
  core('services', 'Service'),
  core('serviceaccounts', 'ServiceAccount'),
  core('events', 'Event'),
  grouped('apps', 'v1', 'deployments', 'Deployment'),
  grouped('apps', 'v1', 'statefulsets', 'StatefulSet'),
  grouped('apps', 'v1', 'daemonsets', 'DaemonSet'),
  grouped('apps', 'v1', 'replicasets', 'ReplicaSet'),
  grouped('batch', 'v1', 'jobs', 'Job'),
  grouped('batch', 'v1', 'cronjobs', 'CronJob'),
  grouped('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy'),
  grouped('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false),
  grouped('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false),
  grouped('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false),
  grouped('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  custom('idgate.dev', 'v1alpha1', 'oidcgroupbindings', 'OIDCGroupBinding'),
  custom('wgpolicyk8s.io', 'v1alpha2', 'policyreports', 'PolicyReport'),
  custom('wgpolicyk8s.io', 'v1alpha2', 'clusterpolicyreports', 'ClusterPolicyReport', false),
];

/** Lookup by URL parts and by object (apiVersion + kind). */
export class ResourceRegistry {
  readonly #byKey = new Map<string, ResourceInfo>();
  readonly #byKind = new Map<string, ResourceInfo>();

  constructor(resources: Iterable<ResourceInfo>) {
    for (const r of resources) this.add(r);
  }

  add(r: ResourceInfo): void {
    this.#byKey.set(resourceKey(r), r);
    this.#byKind.set(`${apiVersionOf(r)}/${r.kind}`, r);
  }

  byUrl(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.#byKey.get(`${group}/${version}/${resource}`);
  }

  /** The resource of an object, or of `{ apiVersion, kind }`; throws for an unknown kind (a test bug). */
  byKind(apiVersion: string, kind: string): ResourceInfo {
    const r = this.#byKind.get(`${apiVersion}/${kind}`);
    if (!r) throw new Error(`fake API server: unknown kind ${apiVersion} ${kind}; register it with startFakeApiServer({ resources })`);
    return r;
  }

  /** By plural alone (`pods`) or by key (`apps/v1/deployments`), for test assertions. */
  byName(name: string): ResourceInfo | undefined {
    const exact = this.#byKey.get(name) ?? this.#byKey.get(`/${name}`);
    if (exact) return exact;
    return [...this.#byKey.values()].find((r) => r.resource === name);
  }

  /** Resources of one group/version, for discovery. */
  inGroupVersion(group: string, version: string): ResourceInfo[] {
    return [...this.#byKey.values()].filter((r) => r.group === group && r.version === version);
  }

  all(): ResourceInfo[] {
    return [...this.#byKey.values()];
  }
}
