/**
 * What the injector would have built for a Pod or a pod template: the sidecar's ports and
 * allowed callers, resolved by the mutation's own functions (so the two sides cannot disagree),
 * with the failure's field placed in the object the rule judges.
 */
import type { ObjectMeta, PodSpec } from '../../admission/k8s.ts';
import type { SidecarParams } from '../../mutate/sidecar.ts';
import { resolveSidecar } from '../../mutate/platform.ts';
import type { SidecarConfig } from '../../config/baseline.ts';
import type { FieldPath } from '../../lib/field-path.ts';

/** The sidecar's parameters, or why (and at which field) the injector would build none. */
export type ParamsResult = { readonly ok: true; readonly params: SidecarParams } | { readonly ok: false; readonly reason: string; readonly path: string };

/**
 * The sidecar's parameters for the Pod (`prefix` the root) or template (`spec.template`) with
 * this metadata and spec, or why the injector would have injected nothing, and where.
 */
export function sidecarParams(meta: ObjectMeta | undefined, spec: PodSpec | undefined, config: SidecarConfig, prefix: FieldPath): ParamsResult {
  const resolved = resolveSidecar({ ...(meta ? { metadata: meta } : {}), ...(spec ? { spec } : {}) }, config);
  // The injector names the field as text, relative to the Pod (`spec.os.name`).
  const at = prefix.toString();
  if (!resolved.ok) return { ok: false, reason: resolved.reason, path: at === '' ? resolved.field : `${at}.${resolved.field}` };
  return { ok: true, params: { config, ...resolved.value } };
}
