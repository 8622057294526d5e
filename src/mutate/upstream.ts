/**
 * Where the injected proxy listens and what it forwards to (SPEC section 2 step 3), from the
 * Pod's annotations and its app containers' ports.
 */
import type { Container, Pod, PodSpec } from '../admission/k8s.ts';
import type { SidecarConfig } from '../baseline/types.ts';
import { ANNOTATION_ALLOWED_GROUPS, ANNOTATION_PROXY_PORT, ANNOTATION_UPSTREAM_PORT } from '../identity/labels.ts';
import { SIDECAR_NAME } from './sidecar.ts';

/** The ports and callers of a sidecar about to be injected. */
export interface ResolvedPorts {
  readonly upstreamPort: number;
  readonly proxyPort: number;
  readonly allowedGroups: readonly string[];
}

/**
 * A resolution that either worked or says, for the user, why not, and which field of the Pod
 * to change (`metadata.annotations[idgate.dev/upstream-port]`, `spec.containers[0].ports`).
 */
export type Resolution<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string; readonly field: string };

const annotationField = (key: string): string => `metadata.annotations[${key}]`;

/** App containers: the Pod's containers without idgate's own sidecar (container mode puts it there). */
export function appContainers(spec: PodSpec | undefined): Container[] {
  return (spec?.containers ?? []).filter((c) => c?.name !== SIDECAR_NAME);
}

/**
 * Quotes a user-supplied value for a message (the injector's reasons and warnings, every rule's
 * violations): JSON escaping removes control characters, the length is bounded, and the cut is
 * marked with ASCII `...` because these texts travel in Warning headers.
 */
export function quote(value: unknown, max = 60): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined';
  return JSON.stringify(s.length > max ? s.slice(0, max) + '...' : s);
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

/**
 * The upstream port: annotation `idgate.dev/upstream-port` (a number 1-65535, or the name of a
 * port of an app container, like a Service's targetPort), else the first TCP containerPort of
 * the first app container. UDP/SCTP ports are passed over: the proxy speaks HTTP over TCP, and
 * ContainerPort.protocol defaults to TCP when absent (core/v1 API reference).
 * A bad annotation is an error, not a reason to guess another port.
 */
export function resolveUpstreamPort(pod: Pod): Resolution<number> {
  const annotation = pod.metadata?.annotations?.[ANNOTATION_UPSTREAM_PORT];
  const apps = appContainers(pod.spec);
  if (annotation !== undefined) {
    const port = parsePort(annotation);
    if (port !== undefined) return { ok: true, value: port };
    const name = annotation.trim();
    for (const c of apps) {
      const named = c.ports?.find((p) => p?.name === name && typeof p.containerPort === 'number');
      if (named?.containerPort !== undefined) return { ok: true, value: named.containerPort };
    }
    return {
      ok: false,
      field: annotationField(ANNOTATION_UPSTREAM_PORT),
      reason: `annotation ${ANNOTATION_UPSTREAM_PORT} ${quote(annotation)} is neither a port number 1-65535 ` +
        `nor the name of a port of an app container`,
    };
  }
  const first = apps[0];
  if (first === undefined) return { ok: false, field: 'spec.containers', reason: 'the Pod has no app container' };
  const port = first.ports?.find((p) => (p?.protocol ?? 'TCP') === 'TCP' && typeof p.containerPort === 'number');
  if (port?.containerPort !== undefined) return { ok: true, value: port.containerPort };
  return {
    ok: false,
    field: `spec.containers[${pod.spec?.containers?.indexOf(first) ?? 0}].ports`,
    reason: `no upstream port: container ${quote(first.name ?? '')} declares no TCP containerPort and the Pod has ` +
      `no ${ANNOTATION_UPSTREAM_PORT} annotation; set one of them`,
  };
}

/** The proxy's listen port: annotation `idgate.dev/proxy-port`, else the baseline's `sidecar.port`. */
export function resolveProxyPort(pod: Pod, defaultPort: number): Resolution<number> {
  const annotation = pod.metadata?.annotations?.[ANNOTATION_PROXY_PORT];
  if (annotation === undefined) return { ok: true, value: defaultPort };
  const port = parsePort(annotation);
  if (port !== undefined) return { ok: true, value: port };
  return { ok: false, field: annotationField(ANNOTATION_PROXY_PORT), reason: `annotation ${ANNOTATION_PROXY_PORT} ${quote(annotation)} is not a port number 1-65535` };
}

/** Groups from `idgate.dev/allowed-groups`: a comma list, entries trimmed, empty entries dropped, duplicates once. */
export function parseAllowedGroups(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((g) => g.trim()).filter((g) => g !== ''))];
}

/**
 * Everything the sidecar needs from the Pod. Fails when there is no upstream, when an
 * annotation is malformed, or when the proxy port is already taken by an app container's
 * port: two processes in one network namespace cannot listen on the same port, and the proxy
 * would lose (or win) the race at start-up.
 */
export function resolvePorts(pod: Pod, config: Pick<SidecarConfig, 'port'>): Resolution<ResolvedPorts> {
  const upstream = resolveUpstreamPort(pod);
  if (!upstream.ok) return upstream;
  const proxy = resolveProxyPort(pod, config.port);
  if (!proxy.ok) return proxy;
  if (proxy.value === upstream.value) {
    return {
      ok: false,
      field: annotationField(ANNOTATION_PROXY_PORT),
      reason: `proxy port ${proxy.value} is the upstream port; set annotation ${ANNOTATION_PROXY_PORT} to a free port`,
    };
  }
  for (const c of appContainers(pod.spec)) {
    if (c.ports?.some((p) => p?.containerPort === proxy.value && (p.protocol ?? 'TCP') === 'TCP')) {
      return {
        ok: false,
        field: annotationField(ANNOTATION_PROXY_PORT),
        reason: `proxy port ${proxy.value} is already a port of container ${quote(c.name ?? '')}; ` +
          `set annotation ${ANNOTATION_PROXY_PORT} to a free port`,
      };
    }
  }
  const allowedGroups = parseAllowedGroups(pod.metadata?.annotations?.[ANNOTATION_ALLOWED_GROUPS]);
  return { ok: true, value: { upstreamPort: upstream.value, proxyPort: proxy.value, allowedGroups } };
}
