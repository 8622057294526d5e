/**
 * The Pod mutation (docs/design.md#mutation): a pure function from the Pod in the AdmissionReview to a
 * minimal JSONPatch. It never modifies its input; it computes operations directly against it,
 * so nothing large (managedFields, big env lists) is ever copied.
 *
 * Idempotent under `reinvocationPolicy: IfNeeded`: run on its own output it returns an empty
 * patch. The API server reinvokes the injector on practically every Pod, because the
 * ServiceAccount admission plugin adds a kube-api-access volumeMount to the injected sidecar
 * after the first pass; the sidecar is recognised by name wherever it is and whatever was
 * added to it, and never injected twice (a second one gets the Pod rejected with
 * `Duplicate value: "idgate-proxy"`).
 */
import { serviceAccountOf, type Pod } from '../admission/k8s.ts';
import type { PatchOperation } from '../admission/types.ts';
import type { Baseline } from '../config/baseline.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { metadataPatch } from './metadata.ts';
import { FRESH_PARTS, type PatchParts } from './parts.ts';
import { appendPatch, prependPatch } from './patch.ts';
import { shouldInject } from './should-inject.ts';
import { tokenVolumePatch } from './volume.ts';

/** Everything {@link mutatePod} reads besides the Pod. */
export interface MutateContext {
  readonly baseline: Baseline;
  readonly identity: IdentityResolver;
  /** `request.namespace`: Pods created by controllers carry no metadata.namespace yet. */
  readonly namespace: string;
  /** The idgate version, written to the `idgate.dev/injected` annotation. */
  readonly version: string;
  /** Where the sidecar and its volumes come from; built anew when absent (parts.ts). */
  readonly parts?: PatchParts;
}

/** What {@link mutatePod} would change, and why. */
export interface MutationResult {
  /** Minimal JSONPatch; empty when the Pod is already as intended. */
  readonly patch: PatchOperation[];
  /** True when this call adds the sidecar (false on a reinvocation that finds it present). */
  readonly injected: boolean;
  /** Why the sidecar was or was not injected. */
  readonly reason: string;
  /** Things the user should know (kubectl prints them); each under ~120 characters. */
  readonly warnings: string[];
}

/** Message when groups cannot be resolved; the handler only lets this through with onUnavailable: allow. */
export const IDENTITY_UNAVAILABLE_WARNING = 'idgate identity cache not synced: group labels not applied; recreate the Pod to get them';

/**
 * Computes the patch for a Pod CREATE:
 * 1. identity labels and annotations replaced by the computed ones (spoofed ones removed);
 * 2. the app container the sidecar forwards to (or would, but for a port problem) recorded in
 *    `idgate.dev/upstream-container`; when the sidecar is injected, the token volume and its
 *    mounts (volume.ts);
 * 3. the sidecar. Native mode puts it first in initContainers, as Istio does: native sidecars
 *    start in list order and stop in reverse, so the proxy is up before any later init
 *    container runs and is the last to stop, serving inbound requests while the Pod drains.
 *    Container mode appends it to containers, so the app stays `containers[0]`, the container
 *    `kubectl logs`/`exec` pick by default.
 * Exempt namespaces and mirror pods are returned untouched (see {@link shouldInject}).
 */
export function mutatePod(pod: Pod, ctx: MutateContext): MutationResult {
  const { baseline } = ctx;
  const decision = shouldInject(pod, ctx);
  if (!decision.identity) return { patch: [], injected: false, reason: decision.reason, warnings: [] };

  const warnings: string[] = [];
  if (!ctx.identity.ready()) warnings.push(IDENTITY_UNAVAILABLE_WARNING);
  const parts = ctx.parts ?? FRESH_PARTS;
  const identity = parts.identity({
    resolver: ctx.identity,
    trustedIssuers: baseline.trustedIssuerSet,
    namespace: ctx.namespace,
    serviceAccount: serviceAccountOf(pod.spec),
    injectedVersion: decision.inject || decision.present ? ctx.version : undefined,
  });
  // The upstream container is recorded so that validation and later passes find the app container
  // by name, wherever other webhooks move it (upstream.ts, ANNOTATION_UPSTREAM_CONTAINER).
  const patch = metadataPatch(pod.metadata, identity, decision.recordContainer);

  if (decision.inject && decision.ports !== undefined) {
    // Only the injecting pass adds volumes and mounts (volume.ts says why).
    const volume = tokenVolumePatch(pod, baseline.sidecar, parts);
    patch.push(...volume.patch);
    warnings.push(...volume.warnings);
    const sidecar = parts.sidecar({ config: baseline.sidecar, ...decision.ports });
    if (baseline.sidecar.mode === 'native') patch.push(...prependPatch('/spec/initContainers', pod.spec?.initContainers, sidecar));
    else patch.push(...appendPatch('/spec/containers', pod.spec?.containers, [sidecar]));
  }

  return { patch, injected: decision.inject, reason: decision.reason, warnings };
}
