/**
 * The Kubernetes identity source (docs/design.md#oidcgroupbinding): OIDCGroupBindings of every namespace and the
 * labels of Namespaces, kept in a {@link BindingIndex} by list + watch. The admission path only
 * reads the index; it never calls the API.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { BindingIndex } from '../identity/index.ts';
import { compactAfterLoad } from '../identity/compact.ts';
import { describeObject, formatIssue, validateBinding } from '../identity/binding.ts';
// Where OIDCGroupBindings are served, as the CRD says.
import { BINDING_GROUP, BINDING_PLURAL, BINDING_VERSION } from '../identity/crd.ts';
import type { IdentitySource, IdentitySourceStatus } from '../identity/source.ts';
import type { Binding } from '../identity/types.ts';
import { createResilientInformer, type InformerHandlers, type InformerStatus, type ResilientInformer } from './informer.ts';

export interface KubeIdentitySourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** The index to fill; a new one by default. */
  readonly index?: BindingIndex;
  /** Relist period, ms (default 10 minutes; 0 disables). */
  readonly resyncMs?: number;
  /** Restart an informer that saw no list, event, bookmark or accepted watch for this long, ms (default 5 minutes). */
  readonly watchdogMs?: number;
  /** Backoff after list/watch errors, ms (default 1000 doubling to 30000). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** List page size (default 500). */
  readonly pageSize?: number;
  /** How long one list page may take before it is aborted and the list retried, ms (default 60 s). */
  readonly listPageTimeoutMs?: number;
  readonly now?: () => number;
}

/** The source's status, with each informer's own. */
export interface KubeIdentitySourceStatus extends IdentitySourceStatus {
  readonly informers: { readonly bindings: InformerStatus; readonly namespaces: InformerStatus };
}

export interface KubeIdentitySource extends IdentitySource {
  status(): KubeIdentitySourceStatus;
}

interface BindingObject extends KubernetesObject {
  spec?: unknown;
}

const sameStrings = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((s, i) => s === b[i]);

/**
 * The binding the index already holds, if `next` is the same: a relist stages it instead of
 * `next`, so the staged list costs a reference per unchanged binding, not a second copy of the
 * index (35 MB for 100,000 bindings, on top of the 51 MB index, under a 128 MiB old space).
 */
function unchanged(current: Binding | undefined, next: Binding): Binding | undefined {
  if (!current || current.issuer !== next.issuer) return undefined;
  return sameStrings(current.groups, next.groups) && sameStrings(current.serviceAccounts, next.serviceAccounts) ? current : undefined;
}

/**
 * Makes the index hold exactly the listed bindings, in one synchronous step (no admission request
 * sees half of it). The first list fills an empty index in bulk; a relist is applied as the
 * deletions and upserts it amounts to, since `replaceAll` would build a second set of index maps
 * and keys while the old bindings are still referenced: at 100,000 bindings a resync then ran the
 * webhook out of its 128 MiB old space (BENCHMARKS.md, "scale").
 */
function applyList(index: BindingIndex, staged: readonly Binding[]): void {
  if (index.size() === 0) {
    index.replaceAll(staged);
    return;
  }
  // Unchanged bindings were staged as the index's own objects (see unchanged()).
  const listed = new Set(staged);
  for (const b of index.bindings()) if (!listed.has(b)) index.delete(b.namespace, b.name);
  for (const b of staged) if (index.get(b.namespace, b.name) !== b) index.upsert(b);
}

/**
 * What the bindings informer does with what it sees: valid bindings go into the index; a
 * malformed one is logged once per resourceVersion and left out (dropping an older valid
 * version of it). A list stages the compact bindings of each page and replaces the index's
 * bindings at once when the last page is in.
 */
function bindingHandlers(index: BindingIndex, logger: Logger): InformerHandlers<BindingObject> {
  /** namespace/name → resourceVersion already reported as malformed, so a relist does not repeat it. */
  const reported = new Map<string, string | undefined>();
  const keyOf = (obj: BindingObject) => `${obj.metadata?.namespace}/${obj.metadata?.name}`;
  const toBinding = (obj: BindingObject): Binding | undefined => {
    const result = validateBinding(obj);
    if (result.ok) return result.binding;
    const key = keyOf(obj);
    if (reported.get(key) !== obj.metadata?.resourceVersion || !reported.has(key)) {
      reported.set(key, obj.metadata?.resourceVersion);
      logger.warn({ binding: key, issues: result.issues.map(formatIssue) }, `${describeObject(obj)} is invalid and ignored`);
    }
    return undefined;
  };
  return {
    list() {
      const staged: Binding[] = [];
      const invalid = new Set<string>();
      return {
        page(items) {
          for (const obj of items) {
            const b = toBinding(obj);
            if (!b) invalid.add(keyOf(obj));
            else staged.push(unchanged(index.get(b.namespace, b.name), b) ?? b);
          }
        },
        commit() {
          applyList(index, staged);
          // Forget reports of bindings that are gone or valid now.
          for (const key of reported.keys()) if (!invalid.has(key)) reported.delete(key);
        },
      };
    },
    upsert(obj) {
      const b = toBinding(obj);
      // A binding edited into an invalid one grants nothing any more: drop the old version.
      if (b) index.upsert(b);
      else index.delete(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    },
    remove(obj) {
      reported.delete(keyOf(obj));
      index.delete(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    },
  };
}

const labelsOf = (ns: V1Namespace): Readonly<Record<string, string>> => ({ ...ns.metadata?.labels });
// The namespace controller sets deletionTimestamp, then phase Terminating, then empties it.
const terminating = (ns: V1Namespace): boolean => Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating';

/** What the namespaces informer does with what it sees: each Namespace's labels and whether it is terminating. */
function namespaceHandlers(index: BindingIndex): InformerHandlers<V1Namespace> {
  return {
    list() {
      const staged: [string, Readonly<Record<string, string>>, boolean][] = [];
      return {
        page(items) {
          for (const ns of items) staged.push([ns.metadata?.name ?? '', labelsOf(ns), terminating(ns)]);
        },
        commit: () => index.replaceNamespaces(staged),
      };
    },
    upsert(ns) {
      index.setNamespace(ns.metadata?.name ?? '', labelsOf(ns), terminating(ns));
    },
    remove(ns) {
      index.deleteNamespace(ns.metadata?.name ?? '');
    },
  };
}

/** The combined status of the two informers. */
function combinedStatus(index: BindingIndex, b: InformerStatus, n: InformerStatus): KubeIdentitySourceStatus {
  const times = [b.lastEventAt, n.lastEventAt].filter((t) => t !== undefined);
  return {
    kind: 'kubernetes',
    synced: index.ready(),
    lastEventAt: times.length > 0 ? Math.max(...times) : undefined,
    restarts: b.restarts + n.restarts,
    bindings: index.size(),
    informers: { bindings: b, namespaces: n },
  };
}

/**
 * Creates the source. `start()` resolves once both informers have listed (then the index is
 * marked synced); until then `index.ready()` is false and readiness stays false. A malformed
 * OIDCGroupBinding in the cluster is logged and left out of the index, never fatal.
 */
export function createKubeIdentitySource(options: KubeIdentitySourceOptions): KubeIdentitySource {
  const { kubeConfig } = options;
  const logger = options.logger.child({ component: 'identity-source' });
  const index = options.index ?? new BindingIndex();
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const common = {
    kubeConfig,
    logger,
    watchdogMs: options.watchdogMs,
    resyncMs: options.resyncMs,
    backoffMs: options.backoffMs,
    pageSize: options.pageSize,
    listPageTimeoutMs: options.listPageTimeoutMs,
    now: options.now,
  };
  const bindings: ResilientInformer = createResilientInformer<BindingObject>({
    ...common,
    resource: BINDING_PLURAL,
    path: `/apis/${BINDING_GROUP}/${BINDING_VERSION}/${BINDING_PLURAL}`,
    listPage: async (page, requestOptions) =>
      (await custom.listClusterCustomObject(
        {
          group: BINDING_GROUP,
          version: BINDING_VERSION,
          plural: BINDING_PLURAL,
          ...page,
        },
        requestOptions,
      )) as KubernetesListObject<BindingObject>,
    handlers: bindingHandlers(index, logger),
  });
  const namespaces: ResilientInformer = createResilientInformer<V1Namespace>({
    ...common,
    resource: 'namespaces',
    path: '/api/v1/namespaces',
    listPage: (page, requestOptions) => core.listNamespace(page, requestOptions),
    handlers: namespaceHandlers(index),
  });

  return {
    index,
    async start() {
      await Promise.all([bindings.start(), namespaces.start()]);
      compactAfterLoad(index.size());
      index.markSynced();
      logger.info({ bindings: index.size() }, 'identity cache synced');
    },
    async stop() {
      await Promise.all([bindings.stop(), namespaces.stop()]);
    },
    status: () => combinedStatus(index, bindings.status(), namespaces.status()),
  };
}
