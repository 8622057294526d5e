/**
 * Where the injected proxy listens and what it forwards to (docs/design.md#sidecar), from the
 * Pod's annotations and its app containers' ports.
 */
import type { Container, Pod, PodSpec } from '../admission/k8s.ts';
import type { SidecarConfig } from '../config/baseline.ts';
import { ANNOTATION_ALLOWED_GROUPS, ANNOTATION_PROXY_PORT, ANNOTATION_UPSTREAM_PORT } from '../identity/labels.ts';
import { quote } from '../text.ts';
import { SIDECAR_NAME } from './sidecar.ts';

/** The ports and callers of a sidecar about to be injected. */
export interface ResolvedPorts {
  readonly upstreamPort: number;
  /** The app container the upstream port belongs to; recorded at injection ({@link ANNOTATION_UPSTREAM_CONTAINER}). */
  readonly upstreamContainer?: string;
  readonly proxyPort: number;
  readonly allowedGroups: readonly string[];
}

/**
 * A resolution that either worked or says, for the user, why not, and which field of the Pod
 * to change (`metadata.annotations[idgate.dev/upstream-port]`, `spec.containers[0].ports`).
 */
export type Resolution<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string; readonly field: string };

const annotationField = (key: string): string => `metadata.annotations[${key}]`;

/**
 * Where idgate records, at injection, the app container the proxy forwards to. A user may set
 * it too, to choose that container. Validation and reinvocations read it instead of taking the
 * first container again: another mutating webhook (Linkerd, Istio with
 * holdApplicationUntilProxyStarts) may since have put its own proxy first in `containers`.
 * Not an identity annotation: it grants nothing, it only says which port the proxy forwards to.
 */
export const ANNOTATION_UPSTREAM_CONTAINER = 'idgate.dev/upstream-container';

/**
 * kubectl's annotation naming a Pod's main container (`kubectl logs`/`exec` default to it).
 * Istio's injector sets it to the app container when it puts istio-proxy first, so it is the
 * best hint a Pod carries of which container is the app.
 */
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

/**
 * Containers other injectors add, by the names they give them (Istio, Linkerd, Vault agent
 * injector, Consul): never the app, never given idgate's token. A container a Pod names so
 * itself is treated the same; it can still be chosen with {@link ANNOTATION_UPSTREAM_CONTAINER}.
 */
export const FOREIGN_SIDECARS: ReadonlySet<string> = new Set(['istio-proxy', 'linkerd-proxy', 'vault-agent', 'consul-dataplane']);

/**
 * App containers: the Pod's containers without idgate's own sidecar (container mode puts it
 * there) and without the proxies of other injectors ({@link FOREIGN_SIDECARS}).
 */
export function appContainers(spec: PodSpec | undefined): Container[] {
  return (spec?.containers ?? []).filter((c) => c?.name !== SIDECAR_NAME && !FOREIGN_SIDECARS.has(c?.name ?? ''));
}

// A decimal port, without sign, exponent or leading zeros that Number() would accept.
const PORT = /^[1-9][0-9]{0,4}$/;

/** Parses a port number 1-65535 (the range of ContainerPort.containerPort), or undefined. */
export function parsePort(value: string): number | undefined {
  const trimmed = value.trim();
  if (!PORT.test(trimmed)) return undefined;
  const n = Number(trimmed);
  return n <= 65535 ? n : undefined;
}

/** The upstream, and the app container it was found in (recorded at injection). */
export interface Upstream {
  readonly port: number;
  /** The container whose port it is; undefined for a numeric `idgate.dev/upstream-port`. */
  readonly container?: string;
}

/**
 * The app container the proxy forwards to: the one annotation `idgate.dev/upstream-container`
 * names (an error when it names no app container), else the one kubectl's default-container
 * annotation names if it is an app container, else the first app container.
 */
export function resolveUpstreamContainer(pod: Pod): Resolution<Container | undefined> {
  const apps = appContainers(pod.spec);
  const annotations = pod.metadata?.annotations;
  const recorded = annotations?.[ANNOTATION_UPSTREAM_CONTAINER];
  if (recorded !== undefined) {
    const named = apps.find((c) => c?.name === recorded.trim());
    if (named !== undefined) return { ok: true, value: named };
    return {
      ok: false,
      field: annotationField(ANNOTATION_UPSTREAM_CONTAINER),
      reason:
        `annotation ${ANNOTATION_UPSTREAM_CONTAINER} ${quote(recorded)} names no app container of the Pod; ` +
        'set it to the name of the container the proxy forwards to',
    };
  }
  const hint = annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  const hinted = hint === undefined ? undefined : apps.find((c) => c?.name === hint.trim());
  return { ok: true, value: hinted ?? apps[0] };
}

/**
 * The upstream port: annotation `idgate.dev/upstream-port` (a number 1-65535, or the name of a
 * port of an app container, like a Service's targetPort), else the first TCP containerPort of
 * the upstream container ({@link resolveUpstreamContainer}). A port name is looked up in the
 * upstream container when `idgate.dev/upstream-container` is set, else in every app container
 * in order. UDP/SCTP ports are passed over: the proxy speaks HTTP over TCP, and
 * ContainerPort.protocol defaults to TCP when absent (core/v1 API reference).
 * A bad annotation is an error, not a reason to guess another port.
 */
export function resolveUpstreamPort(pod: Pod): Resolution<Upstream> {
  const annotation = pod.metadata?.annotations?.[ANNOTATION_UPSTREAM_PORT];
  const target = resolveUpstreamContainer(pod);
  if (!target.ok) return target;
  if (annotation !== undefined) {
    const port = parsePort(annotation);
    if (port !== undefined) return { ok: true, value: { port } };
    const name = annotation.trim();
    const pinned = pod.metadata?.annotations?.[ANNOTATION_UPSTREAM_CONTAINER] !== undefined;
    for (const c of pinned && target.value ? [target.value] : appContainers(pod.spec)) {
      const named = c.ports?.find((p) => p?.name === name && typeof p.containerPort === 'number');
      if (named?.containerPort !== undefined) return { ok: true, value: { port: named.containerPort, container: c.name ?? '' } };
    }
    return {
      ok: false,
      field: annotationField(ANNOTATION_UPSTREAM_PORT),
      reason:
        `annotation ${ANNOTATION_UPSTREAM_PORT} ${quote(annotation)} is neither a port number 1-65535 ` +
        `nor the name of a port of ${pinned ? `container ${quote(target.value?.name ?? '')}` : 'an app container'}`,
    };
  }
  const first = target.value;
  if (first === undefined) return { ok: false, field: 'spec.containers', reason: 'the Pod has no app container' };
  const port = first.ports?.find((p) => (p?.protocol ?? 'TCP') === 'TCP' && typeof p.containerPort === 'number');
  if (port?.containerPort !== undefined) return { ok: true, value: { port: port.containerPort, container: first.name ?? '' } };
  return {
    ok: false,
    field: `spec.containers[${pod.spec?.containers?.indexOf(first) ?? 0}].ports`,
    reason:
      `no upstream port: container ${quote(first.name ?? '')} declares no TCP containerPort and the Pod has ` +
      `no ${ANNOTATION_UPSTREAM_PORT} annotation; set one of them`,
  };
}

/** The proxy's listen port: annotation `idgate.dev/proxy-port`, else the baseline's `sidecar.port`. */
export function resolveProxyPort(pod: Pod, defaultPort: number): Resolution<number> {
  const annotation = pod.metadata?.annotations?.[ANNOTATION_PROXY_PORT];
  if (annotation === undefined) return { ok: true, value: defaultPort };
  const port = parsePort(annotation);
  if (port !== undefined) return { ok: true, value: port };
  return {
    ok: false,
    field: annotationField(ANNOTATION_PROXY_PORT),
    reason: `annotation ${ANNOTATION_PROXY_PORT} ${quote(annotation)} is not a port number 1-65535`,
  };
}

/** Groups from `idgate.dev/allowed-groups`: a comma list, entries trimmed, empty entries dropped, duplicates once. */
export function parseAllowedGroups(value: string | undefined): string[] {
  if (value === undefined) return [];
  const groups = new Set<string>();
  for (const entry of value.split(',')) {
    const group = entry.trim();
    if (group !== '') groups.add(group);
  }
  return [...groups];
}

/** The first TCP port `port` of any container or init container but idgate's own, as `init container "x"`. */
export function portOwner(spec: PodSpec | undefined, port: number): string | undefined {
  for (const list of ['initContainers', 'containers'] as const) {
    for (const c of spec?.[list] ?? []) {
      if (c?.name === SIDECAR_NAME) continue;
      if (c?.ports?.some((p) => p?.containerPort === port && (p.protocol ?? 'TCP') === 'TCP')) {
        return `${list === 'initContainers' ? 'init container' : 'container'} ${quote(c.name ?? '')}`;
      }
    }
  }
  return undefined;
}

/**
 * Everything the sidecar needs from the Pod. Fails when there is no upstream, when an
 * annotation is malformed, or when the proxy port is already a port of another container, init
 * and sidecar containers (another mesh's, a native sidecar already on 4180) included: the
 * containers of a Pod share one network namespace, so two of them cannot listen on one port,
 * and the proxy would lose (or win) the race at start-up. idgate's own sidecar is left out, so
 * validation can resolve the ports of a Pod that already carries it.
 */
export function resolvePorts(pod: Pod, config: Pick<SidecarConfig, 'port'>): Resolution<ResolvedPorts> {
  const upstream = resolveUpstreamPort(pod);
  if (!upstream.ok) return upstream;
  const proxy = resolveProxyPort(pod, config.port);
  if (!proxy.ok) return proxy;
  if (proxy.value === upstream.value.port) {
    return {
      ok: false,
      field: annotationField(ANNOTATION_PROXY_PORT),
      reason: `proxy port ${proxy.value} is the upstream port; set annotation ${ANNOTATION_PROXY_PORT} to a free port`,
    };
  }
  const owner = portOwner(pod.spec, proxy.value);
  if (owner !== undefined) {
    return {
      ok: false,
      field: annotationField(ANNOTATION_PROXY_PORT),
      reason: `proxy port ${proxy.value} is already a port of ${owner}; set annotation ${ANNOTATION_PROXY_PORT} to a free port`,
    };
  }
  const allowedGroups = parseAllowedGroups(pod.metadata?.annotations?.[ANNOTATION_ALLOWED_GROUPS]);
  const { port: upstreamPort, container: upstreamContainer } = upstream.value;
  return {
    ok: true,
    value: { upstreamPort, proxyPort: proxy.value, allowedGroups, ...(upstreamContainer !== undefined ? { upstreamContainer } : {}) },
  };
}
