/**
 * The fake API server's storage, the way etcd + the apiserver's watch cache behave for a client:
 * one global, monotonically increasing resourceVersion; an event log clients can watch from any
 * resourceVersion newer than the compaction point; 409 on name clashes and stale updates.
 */
import { randomUUID } from 'node:crypto';
import fastJsonPatch from 'fast-json-patch';
import { apiVersionOf, resourceKey, type ResourceInfo } from './resources.ts';
import { matches, type Filter } from './selectors.ts';
import { StatusError } from './errors.ts';

export { matches, type Filter } from './selectors.ts';
export { StatusError } from './errors.ts';

/** A stored object: any JSON with Kubernetes metadata. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, as a watch delivers it. */
export interface StoreEvent {
  readonly rv: number;
  readonly resource: ResourceInfo;
  readonly type: WatchEventType;
  readonly object: KubeObject;
}

const clone = <T>(v: T): T => structuredClone(v);
const objKey = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

/** A list page: items (copies), the list resourceVersion, and the token for the next page. */
export interface ListPage {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
  readonly continue?: string;
  /** Objects after this page (the list's `remainingItemCount`), when there is a next page. */
  readonly remaining?: number;
}

export class FakeStore {
  #rv = 1;
  #compactedRv = 0;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  #log: StoreEvent[] = [];
  readonly #listeners = new Set<(e: StoreEvent) => void>();
  readonly #sortedCache = new Map<string, [string, KubeObject][]>();

  /** The latest resourceVersion handed out. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Watches and continue tokens older than this get 410 Gone. */
  get compactedRv(): number {
    return this.#compactedRv;
  }

  /** Forgets the event log: every resourceVersion up to now becomes too old to watch from. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#log = [];
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Events after `rv` (exclusive); throws 410 Expired when `rv` is older than the compaction point. */
  eventsSince(rv: number): StoreEvent[] {
    if (rv < this.#compactedRv) {
      throw new StatusError(410, 'Expired', `too old resource version: ${rv} (${this.#compactedRv})`);
    }
    return this.#log.filter((e) => e.rv > rv);
  }

  get(resource: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
    const obj = this.#table(resource).get(objKey(namespace, name));
    if (!obj) throw notFound(resource, name);
    return clone(obj);
  }

  /** Matching objects sorted by namespace/name, paged by `limit` and a `continue` token. */
  list(resource: ResourceInfo, filter: Filter, limit?: number, continueToken?: string): ListPage {
    let listRv = this.#rv;
    let after = '';
    if (continueToken) {
      const token = decodeContinue(continueToken);
      if (token.rv < this.#compactedRv) {
        // k8s.io/apiserver/pkg/storage/etcd3/store.go: the 410 offers a token at the current
        // revision that continues after the same key, and says the result would be inconsistent.
        throw new StatusError(410, 'Expired', CONTINUE_EXPIRED_MESSAGE, undefined, { continue: encodeContinue({ rv: this.#rv, after: token.after }) });
      }
      listRv = token.rv;
      after = token.after;
    }
    const sorted = this.#sorted(resource);
    const all = sorted.slice(firstAfter(sorted, after)).filter(([, o]) => matches(o, filter));
    const page = limit && limit > 0 ? all.slice(0, limit) : all;
    const last = page.at(-1);
    const more = page.length < all.length && last !== undefined;
    return {
      items: page.map(([, o]) => clone(o)),
      resourceVersion: String(listRv),
      ...(more ? { continue: encodeContinue({ rv: listRv, after: last[0] }), remaining: all.length - page.length } : {}),
    };
  }

  create(resource: ResourceInfo, input: KubeObject, dryRun = false): KubeObject {
    const obj = clone(input);
    obj.metadata ??= {};
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomUUID().slice(0, 5)}`;
    if (!meta.name) throw new StatusError(422, 'Invalid', `${resource.kind} is invalid: metadata.name: Required value: name or generateName is required`);
    if (resource.namespaced && !meta.namespace) throw new StatusError(400, 'BadRequest', 'the namespace of the provided object is required');
    if (!resource.namespaced) delete meta.namespace;
    const table = this.#table(resource);
    const k = objKey(meta.namespace, meta.name);
    if (table.has(k)) {
      throw new StatusError(
        409,
        'AlreadyExists',
        `${resource.resource}${resource.group ? `.${resource.group}` : ''} "${meta.name}" already exists`,
        details(resource, meta.name),
      );
    }
    obj.apiVersion = apiVersionOf(resource);
    obj.kind = resource.kind;
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    // Core v1 kinds (Pods, Namespaces, ConfigMaps…) have no generation in v1.32 (the recorded Pod
    // list has none); workloads, NetworkPolicies and custom resources start at 1.
    if (tracksGeneration(resource)) meta.generation = 1;
    if (dryRun) return { ...obj, metadata: { ...meta, resourceVersion: String(this.#rv) } };
    return this.#commit(resource, 'ADDED', k, obj);
  }

  /**
   * Replaces an object. A `metadata.resourceVersion` that is not the current one gets 409 Conflict
   * (optimistic concurrency); an absent one is an unconditional update, as in the apiserver.
   * With `subresource: 'status'` only `.status` changes; otherwise `.status` is kept.
   */
  update(resource: ResourceInfo, input: KubeObject, opts: { subresource?: string; dryRun?: boolean } = {}): KubeObject {
    const name = input.metadata?.name ?? '';
    const namespace = resource.namespaced ? input.metadata?.namespace : undefined;
    const current = this.get(resource, namespace, name);
    const given = input.metadata?.resourceVersion;
    if (given && given !== current.metadata?.resourceVersion) {
      throw new StatusError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${resource.resource}${resource.group ? `.${resource.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        details(resource, name),
      );
    }
    let next: KubeObject;
    if (opts.subresource === 'status') {
      next = { ...current, status: clone(input.status) };
    } else {
      next = clone(input);
      if ('status' in current) next.status = current.status;
      else delete next.status;
    }
    next.apiVersion = apiVersionOf(resource);
    next.kind = resource.kind;
    next.metadata = { ...next.metadata, name, namespace, uid: current.metadata?.uid, creationTimestamp: current.metadata?.creationTimestamp };
    if (!resource.namespaced) delete next.metadata.namespace;
    if (tracksGeneration(resource) && opts.subresource !== 'status' && JSON.stringify(next.spec) !== JSON.stringify(current.spec)) {
      next.metadata.generation = Number(current.metadata?.generation ?? 1) + 1;
    }
    if (opts.dryRun) return next;
    return this.#commit(resource, 'MODIFIED', objKey(namespace, name), next);
  }

  /** PATCH: merge patch (RFC 7386; strategic merge is treated as merge) or JSON patch (RFC 6902). */
  patch(
    resource: ResourceInfo,
    namespace: string | undefined,
    name: string,
    contentType: string,
    body: unknown,
    opts: { subresource?: string; dryRun?: boolean } = {},
  ): KubeObject {
    const current = this.get(resource, namespace, name);
    let next: KubeObject;
    if (contentType.includes('json-patch')) {
      if (!Array.isArray(body)) throw new StatusError(400, 'BadRequest', 'a JSON patch must be a list of operations');
      try {
        next = fastJsonPatch.applyPatch(clone(current), body as fastJsonPatch.Operation[], true, false).newDocument;
      } catch (err) {
        // A failed `test` operation or a missing path: the apiserver answers 422 (or 409 for test).
        throw new StatusError(422, 'Invalid', `the JSON patch cannot be applied: ${(err as Error).message.split('\n')[0]}`);
      }
    } else {
      next = mergePatch(current, body) as KubeObject;
    }
    // A patch may carry a resourceVersion precondition; if it does not, the current one applies.
    if (next.metadata && !(body as KubeObject)?.metadata?.resourceVersion) next.metadata.resourceVersion = current.metadata?.resourceVersion;
    return this.update(resource, { ...next, metadata: { ...next.metadata, name, namespace } }, opts);
  }

  delete(resource: ResourceInfo, namespace: string | undefined, name: string, dryRun = false): KubeObject {
    const current = this.get(resource, namespace, name);
    if (dryRun) return current;
    this.#table(resource).delete(objKey(namespace, name));
    this.#sortedCache.delete(resourceKey(resource));
    // The DELETED event carries the deletion's resourceVersion, as the watch cache does.
    current.metadata = { ...current.metadata, resourceVersion: String(++this.#rv) };
    this.#emit({ rv: this.#rv, resource, type: 'DELETED', object: current });
    return clone(current);
  }

  #commit(resource: ResourceInfo, type: WatchEventType, k: string, obj: KubeObject): KubeObject {
    const rv = ++this.#rv;
    obj.metadata = { ...obj.metadata, resourceVersion: String(rv) };
    this.#table(resource).set(k, obj);
    this.#sortedCache.delete(resourceKey(resource));
    this.#emit({ rv, resource, type, object: clone(obj) });
    return clone(obj);
  }

  #emit(event: StoreEvent): void {
    this.#log.push(event);
    for (const l of this.#listeners) l(event);
  }

  /** The objects of a resource sorted by key, kept until the next write to it (a 100k-object list is 200 pages). */
  #sorted(resource: ResourceInfo): [string, KubeObject][] {
    const k = resourceKey(resource);
    let sorted = this.#sortedCache.get(k);
    if (!sorted) {
      sorted = [...this.#table(resource).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      this.#sortedCache.set(k, sorted);
    }
    return sorted;
  }

  #table(resource: ResourceInfo): Map<string, KubeObject> {
    const k = resourceKey(resource);
    let t = this.#objects.get(k);
    if (!t) {
      t = new Map();
      this.#objects.set(k, t);
    }
    return t;
  }
}

/** The apiserver's message for an expired continue token (k8s.io/apiserver/pkg/storage/etcd3/store.go). */
const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. ' +
  'You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. ' +
  'Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

const tracksGeneration = (resource: ResourceInfo): boolean => resource.group !== '';

function notFound(resource: ResourceInfo, name: string): StatusError {
  return new StatusError(404, 'NotFound', `${resource.resource}${resource.group ? `.${resource.group}` : ''} "${name}" not found`, details(resource, name));
}

function details(resource: ResourceInfo, name: string): Record<string, unknown> {
  // metav1.StatusDetails: `group` is omitted for the core group.
  return { name, ...(resource.group ? { group: resource.group } : {}), kind: resource.resource };
}

/** The index of the first entry whose key sorts after `after` ('' : all of them). */
function firstAfter(sorted: readonly [string, KubeObject][], after: string): number {
  let [lo, hi] = [0, sorted.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]![0] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeContinue(token: { rv: number; after: string }): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(s: string): { rv: number; after: string } {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { rv: unknown; after: unknown };
    if (typeof t.rv === 'number' && typeof t.after === 'string') return { rv: t.rv, after: t.after };
  } catch {
    // fall through
  }
  throw new StatusError(400, 'BadRequest', 'continue key is not valid');
}

/** RFC 7386 JSON merge patch: null deletes, objects merge, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
