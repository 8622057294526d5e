/**
 * The API calls of `idgate audit` (docs/design.md#audit-and-check): paged listing (`limit`/`continue`) of any
 * kind, and create-or-update of PolicyReports.
 *
 * Objects come back as the API server's JSON, untouched. client-node's typed APIs deserialize
 * into model classes that drop unknown fields and give every absent field an explicit
 * `undefined`; the rules compare containers with isDeepStrictEqual (rules/sidecar-compare.ts), which sees
 * both the class prototype and those keys, so a typed Pod would never match the sidecar idgate
 * injected. {@link RawObjectApi} keeps client-node's transport, authentication and discovery
 * (KubernetesObjectApi) and skips only the deserialization.
 */
import {
  ApiException,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { KubeObject } from '../admission/k8s.ts';

import { NotServedError, type AuditClient, type AuditResource, type WritableObject } from '../audit/cluster.ts';
import { statusMessage } from './status.ts';

export { ERR_NOT_SERVED, NotServedError, type AuditClient, type AuditResource, type WritableObject } from '../audit/cluster.ts';

/** KubernetesObjectApi that returns the response JSON as is (see the file comment). */
class RawObjectApi extends KubernetesObjectApi {
  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext, type?: string): Promise<T> {
    // Discovery (V1APIResourceList) and Status types still go through the typed path.
    if (type !== undefined) return super.processResponse(response, type);
    const text = await response.body.text();
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw new ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', text, response.headers);
    }
    return JSON.parse(text) as T;
  }
}

/** How often a list whose continue token expired (410 Gone) starts over before the audit gives up. */
const MAX_LIST_RESTARTS = 3;

/** How often an update that lost a race (409 Conflict) is retried with a fresh read. */
const MAX_CONFLICT_RETRIES = 5;

const isNotServed = (err: unknown): boolean => err instanceof Error && err.message.startsWith('Unrecognized API version and kind');
const statusOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/**
 * A real list carries `kind` and `apiVersion` on the list only (`PodList`), never on its items
 * (`../shared/k8s-recorded/api/pods-list-page1.json`); the rules and reports read them from the
 * object, so they are set from what was listed, as kubectl does when it prints a list item.
 * The item is fresh from JSON.parse and ours alone, so it is completed in place, not copied.
 */
function withTypeMeta(item: KubeObject, resource: AuditResource): void {
  item.apiVersion = resource.apiVersion;
  item.kind = resource.kind;
}

/** Creates the client from a loaded kubeconfig (see kube/config.ts). */
export function createAuditClient(kubeConfig: KubeConfig): AuditClient {
  // Every call names its namespace, so the context's default namespace never applies.
  const api = kubeConfig.makeApiClient(RawObjectApi);
  return {
    listPages: (resource, namespace, pageSize) => listPages(api, resource, namespace, pageSize),
    async serves(resource) {
      try {
        await api.list(resource.apiVersion, resource.kind, undefined, undefined, undefined, undefined, undefined, undefined, 1);
        return true;
      } catch (err) {
        if (isNotServed(err) || statusOf(err) === 404) return false;
        throw err;
      }
    },
    upsert: (object) => upsert(api, object),
  };
}

/** {@link AuditClient.listPages}. */
async function* listPages(api: RawObjectApi, resource: AuditResource, namespace: string | undefined, pageSize: number): AsyncGenerator<KubeObject[]> {
  // A continue token expires with etcd's compaction (every 5 minutes by default): a long
  // audit then gets 410 Gone for its next page. The list restarts from the beginning and
  // what was already yielded is skipped, so every object is judged exactly once.
  const yielded = new Set<string>();
  let token: string | undefined;
  let restarts = 0;
  for (;;) {
    let page: KubernetesListObject<KubernetesObject>;
    try {
      page = await api.list(resource.apiVersion, resource.kind, namespace, undefined, undefined, undefined, undefined, undefined, pageSize, token);
    } catch (err) {
      if (isNotServed(err)) throw new NotServedError(resource);
      if (statusOf(err) === 410 && token !== undefined && restarts < MAX_LIST_RESTARTS) {
        restarts++;
        token = undefined;
        continue;
      }
      throw err;
    }
    const items = ((page.items ?? []) as KubeObject[]).filter((obj) => {
      const key = obj.metadata?.uid ?? `${obj.metadata?.namespace}/${obj.metadata?.name}`;
      if (yielded.has(key)) return false;
      yielded.add(key);
      return true;
    });
    for (const item of items) withTypeMeta(item, resource);
    yield items;
    token = page.metadata?._continue || (page.metadata as { continue?: string } | undefined)?.continue || undefined;
    if (token === undefined) return;
  }
}

/** {@link AuditClient.upsert}. */
async function upsert(api: RawObjectApi, object: WritableObject): Promise<'created' | 'updated'> {
  const ref = { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: object.metadata.namespace } };
  for (let attempt = 0; ; attempt++) {
    let current: KubernetesObject | undefined;
    try {
      current = await api.read(ref);
    } catch (err) {
      if (isNotServed(err)) throw new NotServedError(object);
      if (statusOf(err) !== 404) throw err;
    }
    try {
      if (current === undefined) {
        await api.create(object);
        return 'created';
      }
      const { resourceVersion: _ignored, ...meta } = object.metadata;
      await api.replace({ ...object, metadata: { ...meta, resourceVersion: current.metadata?.resourceVersion } });
      return 'updated';
    } catch (err) {
      // 409: someone created it since our read, or updated it (stale resourceVersion): read again.
      if (statusOf(err) !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw err;
    }
  }
}

/**
 * Whether an error came from talking to the API server (an HTTP error answer, or a connection,
 * DNS or TLS failure), as opposed to a bug of ours: only those mean "cannot read the cluster".
 */
export function isClusterError(err: unknown): boolean {
  if (err instanceof ApiException) return true;
  if (!(err instanceof Error)) return false;
  // Connection refused, unknown host, TLS: undici's `fetch failed` TypeError (client-node
  // prefixes its message with the resource, object.js), with node's errno code on its cause.
  const codeOf = (e: unknown): unknown => (e as { code?: unknown } | undefined)?.code;
  const code = codeOf(err) ?? codeOf(err.cause);
  return (
    err.name === 'FetchError' ||
    /(^|: )fetch failed$/.test(err.message) ||
    (typeof code === 'string' && /^(E[A-Z]+$|UND_ERR_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code))
  );
}

/** A short, user-facing description of an API error. */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const message = statusMessage(err.body);
    return `HTTP ${err.code}${message !== undefined ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}
