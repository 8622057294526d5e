/**
 * URL routing of the fake API server: `/api/v1/...` and `/apis/<group>/<version>/...` into
 * resource, namespace, name and subresource, and the discovery documents.
 */
import { apiVersionOf, type ResourceInfo, type ResourceRegistry } from './resources.ts';

/** What a request path names. */
export interface Route {
  resource?: ResourceInfo;
  namespace?: string;
  name?: string;
  subresource?: string;
  discovery?: unknown;
}

/** Splits `/api/v1/namespaces/ns/pods/name/status` (and the `/apis/g/v` form) into its parts. */
export function parseRoute(pathname: string, registry: ResourceRegistry): Route {
  const seg = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (seg[0] === 'api') {
    if (seg.length === 1) return { discovery: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    [group, version, rest] = ['', seg[1], seg.slice(2)];
  } else if (seg[0] === 'apis') {
    if (seg.length === 1) return { discovery: groupList(registry) };
    [group, version, rest] = [seg[1] ?? '', seg[2], seg.slice(3)];
  } else {
    return {};
  }
  if (!version) return {};
  if (rest.length === 0) {
    const resources = registry.inGroupVersion(group, version);
    if (resources.length === 0) return {};
    return {
      discovery: {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: apiVersionOf({ group, version }),
        resources: resources.map((r) => ({
          name: r.resource,
          singularName: r.kind.toLowerCase(),
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        })),
      },
    };
  }
  const nested = rest[0] === 'namespaces' && rest.length >= 3 ? registry.byUrl(group, version, rest[2] ?? '') : undefined;
  if (nested?.namespaced) return { resource: nested, namespace: rest[1], name: rest[3], subresource: rest[4] };
  const resource = registry.byUrl(group, version, rest[0] ?? '');
  return resource ? { resource, name: rest[1], subresource: rest[2] } : {};
}

function groupList(registry: ResourceRegistry): unknown {
  const groups = new Map<string, Set<string>>();
  for (const r of registry.all()) if (r.group) (groups.get(r.group) ?? groups.set(r.group, new Set()).get(r.group)!).add(r.version);
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => {
      const vs = [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
      return { name, versions: vs, preferredVersion: vs[0] };
    }),
  };
}
