/**
 * Whether a Pod gets the sidecar: one standalone decision function, like Istio's
 * `injectRequired` (pkg/kube/inject/inject.go), tested as a table.
 */
import type { ObjectMeta, Pod } from '../admission/k8s.ts';
import type { Baseline } from '../config/baseline.ts';
import { ANNOTATION_INJECT } from '../identity/labels.ts';
import { SIDECAR_NAME } from './sidecar.ts';
import { resolveSidecar, windowsField } from './platform.ts';
import { ANNOTATION_UPSTREAM_CONTAINER, resolveUpstreamContainer, type Resolution, type ResolvedPorts } from './upstream.ts';

/** The annotation the kubelet puts on mirror pods of static pods. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

/** The outcome of {@link shouldInject}. */
export interface InjectDecision {
  /** Add the sidecar now. */
  readonly inject: boolean;
  /** Why, for the decision log line and dry-run warnings. */
  readonly reason: string;
  /**
   * Whether idgate touches the Pod at all (identity labels and annotations). False only for
   * Pods idgate must leave alone: exempt namespaces and mirror pods. Every other Pod, injected
   * or not, gets its identity labels recomputed, so a spoofed label never survives an opt-out.
   */
  readonly identity: boolean;
  /** Set when `inject` is true: the sidecar's ports and allowed callers. */
  readonly ports?: ResolvedPorts;
  /** The sidecar is already in the Pod (a reinvocation, or a copied Pod spec). */
  readonly present: boolean;
  /**
   * The app container to record in `idgate.dev/upstream-container`, when the Pod has none yet:
   * set whenever the decision reached the ports (step 6), injected or not, so that a later
   * pass decides on the same container even after another webhook has put its own first (a
   * Pod left without sidecar for want of a port must not get one forwarding to a mesh's port).
   */
  readonly recordContainer?: string;
}

/** See {@link InjectDecision.recordContainer}. Never for a Windows Pod, which gets no sidecar whatever its containers. */
function appContainerToRecord(pod: Pod, ports: Resolution<ResolvedPorts>): string | undefined {
  if (pod.metadata?.annotations?.[ANNOTATION_UPSTREAM_CONTAINER] !== undefined || windowsField(pod) !== undefined) return undefined;
  if (ports.ok && ports.value.upstreamContainer !== undefined) return ports.value.upstreamContainer;
  const target = resolveUpstreamContainer(pod);
  return target.ok ? target.value?.name : undefined;
}

/** What {@link shouldInject} reads besides the Pod. */
export interface ShouldInjectContext {
  readonly baseline: Pick<Baseline, 'exemptNamespaces' | 'sidecar'>;
  /** The request's namespace (Pods from controllers carry none in metadata yet). */
  readonly namespace: string;
}

/** True when the Pod already has a container or init container named `idgate-proxy`. */
export function hasSidecar(pod: Pod): boolean {
  const named = (c: { name?: string } | null | undefined): boolean => c?.name === SIDECAR_NAME;
  return (pod.spec?.initContainers ?? []).some(named) || (pod.spec?.containers ?? []).some(named);
}

/** `idgate.dev/inject: "false"` on the Pod or template (case and surrounding spaces ignored). */
export function optedOut(meta: ObjectMeta | undefined): boolean {
  return meta?.annotations?.[ANNOTATION_INJECT]?.trim().toLowerCase() === 'false';
}

/**
 * A mirror pod: the kubelet's API copy of a static pod. The kubelet owns its spec, so idgate
 * neither mutates nor judges it.
 */
export function isMirrorPod(meta: ObjectMeta | undefined): boolean {
  return Object.hasOwn(meta?.annotations ?? {}, MIRROR_POD_ANNOTATION);
}

/**
 * Decides, in this order (first match wins):
 * 1. exempt namespace → untouched;
 * 2. mirror pod → untouched: the NodeRestriction admission plugin forbids mirror pods that
 *    reference ServiceAccounts or projected token volumes, so any mutation would get the
 *    kubelet's static pod rejected; and the kubelet owns their spec;
 * 3. sidecar already present → not injected again (docs/design.md#reinvocation);
 * 4. `idgate.dev/inject: "false"` → not injected, when the baseline's `sidecar.allowOptOut`;
 *    otherwise the annotation is ignored and the reason says so;
 * 5. `hostNetwork: true` → not injected (Istio does the same): the proxy would listen on the
 *    node's own network, where its port clashes with every other such Pod on the node, and
 *    NetworkPolicy does not apply to host-network Pods anyway (validation rule
 *    pod-host-network rejects them);
 * 6. a Windows Pod, no resolvable upstream port, a malformed port annotation or a proxy port
 *    clash with any container → not injected; validation (pod-sidecar) reports the missing
 *    sidecar and why (src/mutate/platform.ts).
 * From 3 on, identity labels are still applied.
 */
export function shouldInject(pod: Pod, ctx: ShouldInjectContext): InjectDecision {
  const { baseline, namespace } = ctx;
  if (baseline.exemptNamespaces.includes(namespace)) {
    return { inject: false, identity: false, present: false, reason: `namespace ${namespace} is exempt` };
  }
  if (isMirrorPod(pod.metadata)) {
    return { inject: false, identity: false, present: false, reason: 'mirror pod of a static pod' };
  }
  if (hasSidecar(pod)) {
    return { inject: false, identity: true, present: true, reason: `sidecar ${SIDECAR_NAME} already present` };
  }
  let note = '';
  if (optedOut(pod.metadata)) {
    if (baseline.sidecar.allowOptOut) {
      return { inject: false, identity: true, present: false, reason: `opted out with annotation ${ANNOTATION_INJECT}: "false"` };
    }
    note = `; annotation ${ANNOTATION_INJECT}: "false" ignored: the baseline does not allow opt-out (sidecar.allowOptOut)`;
  }
  if (pod.spec?.hostNetwork === true) {
    return { inject: false, identity: true, present: false, reason: `hostNetwork pod: the proxy would listen on the node network${note}` };
  }
  const ports = resolveSidecar(pod, baseline.sidecar);
  const record = appContainerToRecord(pod, ports);
  const recorded = record !== undefined ? { recordContainer: record } : {};
  if (!ports.ok) return { inject: false, identity: true, present: false, reason: ports.reason + note, ...recorded };
  const { upstreamPort, proxyPort } = ports.value;
  return {
    inject: true,
    identity: true,
    present: false,
    ports: ports.value,
    ...recorded,
    reason: `injected ${SIDECAR_NAME} (${baseline.sidecar.mode}) on port ${proxyPort} forwarding to 127.0.0.1:${upstreamPort}${note}`,
  };
}
