/**
 * List responses of the fake API server, shaped as kube-apiserver v1.32 shapes them (checked
 * against `../shared/k8s-recorded/api/` by test/kube/fake-apiserver-recorded.test.ts):
 * - built-in resources: `kind: PodList`, `apiVersion: v1` on the list only; the items carry
 *   neither (the apiserver's typed lists are encoded without per-item TypeMeta);
 * - custom resources: items keep `kind` and `apiVersion` (they are stored unstructured), and
 *   `metadata.continue` is always present, `""` on the last page;
 * - `metadata.remainingItemCount` with a `continue` token, when no selector filters the list
 *   (the apiserver cannot count what a selector would drop, so it omits the field then);
 * - Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, what `kubectl get`
 *   asks for) only when asked, with PartialObjectMetadata rows.
 */
import { apiVersionOf, type ResourceInfo } from './resources.ts';
import type { KubeObject, ListPage } from './store.ts';

/** Whether the Accept header asks for a meta.k8s.io Table (kubectl get). */
export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && /(^|[,;\s])as=Table/.test(accept) && accept.includes('g=meta.k8s.io');
}

/** The list body for one page. `filtered`: a label or field selector applied. */
export function listBody(resource: ResourceInfo, page: ListPage, filtered: boolean): Record<string, unknown> {
  const metadata: Record<string, unknown> = { resourceVersion: page.resourceVersion };
  if (page.continue !== undefined) {
    metadata.continue = page.continue;
    if (!filtered) metadata.remainingItemCount = page.remaining;
  } else if (resource.custom) {
    metadata.continue = '';
  }
  const items = resource.custom ? page.items : page.items.map(withoutTypeMeta);
  return { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource), metadata, items };
}

function withoutTypeMeta(obj: KubeObject): KubeObject {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = obj;
  return rest;
}

/** The Table kubectl asks for: Name and Age columns, each row with the object's metadata only. */
export function tableBody(page: ListPage, now = Date.now()): Record<string, unknown> {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: page.resourceVersion, ...(page.continue !== undefined ? { continue: page.continue } : {}) },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
      {
        name: 'Age',
        type: 'string',
        format: '',
        description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
        priority: 0,
      },
    ],
    rows: page.items.map((obj) => ({
      cells: [obj.metadata?.name, age(String(obj.metadata?.creationTimestamp ?? ''), now)],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata },
    })),
  };
}

function age(created: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (!Number.isFinite(seconds)) return '<unknown>';
  return seconds < 120 ? `${seconds}s` : seconds < 7200 ? `${Math.floor(seconds / 60)}m` : `${Math.floor(seconds / 3600)}h`;
}
