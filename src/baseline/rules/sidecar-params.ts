/**
 * What the injector would have built for a Pod: the sidecar's ports and allowed callers, read
 * from the Pod's annotations and containers with the same rules as the mutation (SPEC section 2
 * step 3), and the reason when it would have injected nothing. Kept in the baseline so the
 * validating side does not depend on the mutation's internals, only on buildSidecar().
 */
import type { Container, ObjectMeta, PodSpec } from '../../admission/k8s.ts';
import {
  ANNOTATION_ALLOWED_GROUPS, ANNOTATION_INJECT, ANNOTATION_PROXY_PORT, ANNOTATION_UPSTREAM_PORT,
} from '../../identity/labels.ts';
import { SIDECAR_NAME, type SidecarParams } from '../../mutate/sidecar.ts';
import type { SidecarConfig } from '../types.ts';
import { asArray, keyPath, quote } from './common.ts';

export type ParamsResult =
  | { readonly ok: true; readonly params: SidecarParams }
  | { readonly ok: false; readonly reason: string; readonly path: string };

// A decimal port without sign, exponent or leading zeros (which Number() would accept).
const PORT = /^[1-9][0-9]{0,4}$/;

function parsePort(value: string): number | undefined {
  const trimmed = value.trim();
  if (!PORT.test(trimmed)) return undefined;
  const n = Number(trimmed);
  return n <= 65535 ? n : undefined;
}

/** The Pod's app containers with their index in spec.containers (the sidecar excluded). */
export function appContainers(spec: PodSpec | undefined): Array<[number, Container]> {
  return asArray<Container>(spec?.containers)
    .map((c, i): [number, Container] => [i, c])
    .filter(([, c]) => c?.name !== SIDECAR_NAME);
}

/** `idgate.dev/inject: "false"` on the Pod (or template). */
export function optedOut(meta: ObjectMeta | undefined): boolean {
  return meta?.annotations?.[ANNOTATION_INJECT]?.trim().toLowerCase() === 'false';
}

/** Comma list, trimmed, empty entries dropped, duplicates once: the mutation's parsing. */
export function parseAllowedGroups(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((g) => g.trim()).filter((g) => g !== ''))];
}

/**
 * Upstream = annotation `idgate.dev/upstream-port` (a port number or the name of an app
 * container's port), else the first TCP containerPort of the first app container (protocol
 * defaults to TCP: core/v1 ContainerPort). Proxy port = annotation `idgate.dev/proxy-port`,
 * else the baseline's; it must not collide with the upstream or an app port. Paths are
 * relative to `prefix` (`''` for a Pod, `spec.template.` for a workload).
 */
export function sidecarParams(meta: ObjectMeta | undefined, spec: PodSpec | undefined, config: SidecarConfig, prefix: string): ParamsResult {
  const annotations = meta?.annotations ?? {};
  const apps = appContainers(spec);
  const annotationPath = (key: string): string => keyPath(`${prefix}metadata.annotations`, key);
  let upstream: number | undefined;
  const upstreamAnnotation = annotations[ANNOTATION_UPSTREAM_PORT];
  if (upstreamAnnotation !== undefined) {
    upstream = parsePort(upstreamAnnotation);
    const name = upstreamAnnotation.trim();
    for (const [, c] of apps) {
      if (upstream !== undefined) break;
      upstream = asArray<{ name?: string; containerPort?: number }>(c?.ports)
        .find((p) => p?.name === name && typeof p.containerPort === 'number')?.containerPort;
    }
    if (upstream === undefined) {
      return {
        ok: false,
        path: annotationPath(ANNOTATION_UPSTREAM_PORT),
        reason: `annotation ${ANNOTATION_UPSTREAM_PORT} ${quote(upstreamAnnotation, 40)} is neither a port number 1-65535 nor the name of an app container's port`,
      };
    }
  } else {
    const first = apps[0];
    if (first === undefined) return { ok: false, path: `${prefix}spec.containers`, reason: 'the Pod has no app container' };
    const [index, c] = first;
    upstream = asArray<{ containerPort?: number; protocol?: string }>(c?.ports)
      .find((p) => (p?.protocol ?? 'TCP') === 'TCP' && typeof p.containerPort === 'number')?.containerPort;
    if (upstream === undefined) {
      return {
        ok: false,
        path: `${prefix}spec.containers[${index}].ports`,
        reason: `no upstream port: container ${quote(c?.name ?? '', 40)} declares no TCP containerPort and there is no ` +
          `${ANNOTATION_UPSTREAM_PORT} annotation; set one of them`,
      };
    }
  }
  let proxyPort = config.port;
  const proxyAnnotation = annotations[ANNOTATION_PROXY_PORT];
  if (proxyAnnotation !== undefined) {
    const parsed = parsePort(proxyAnnotation);
    if (parsed === undefined) {
      return { ok: false, path: annotationPath(ANNOTATION_PROXY_PORT), reason: `annotation ${ANNOTATION_PROXY_PORT} ${quote(proxyAnnotation, 40)} is not a port number 1-65535` };
    }
    proxyPort = parsed;
  }
  const clash = proxyPort === upstream ||
    apps.some(([, c]) => asArray<{ containerPort?: number; protocol?: string }>(c?.ports)
      .some((p) => p?.containerPort === proxyPort && (p.protocol ?? 'TCP') === 'TCP'));
  if (clash) {
    return {
      ok: false,
      path: annotationPath(ANNOTATION_PROXY_PORT),
      reason: `proxy port ${proxyPort} is already a port of an app container; set annotation ${ANNOTATION_PROXY_PORT} to a free port`,
    };
  }
  return {
    ok: true,
    params: { config, upstreamPort: upstream, proxyPort, allowedGroups: parseAllowedGroups(annotations[ANNOTATION_ALLOWED_GROUPS]) },
  };
}
