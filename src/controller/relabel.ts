/**
 * The relabel decision (docs/design.md#relabel), pure: given a Pod as the API server has it and what the
 * bindings give its ServiceAccount now, the JSON merge patch that brings its identity labels and
 * annotations in line — or nothing. The labels come from {@link computeIdentity}, the mutation's
 * own function, so the injector, the validator and this controller cannot disagree.
 */
import { serviceAccountOf, type Pod } from '../admission/k8s.ts';
import { ANNOTATION_INJECTED, LABEL_SERVICE_ACCOUNT, isIdentityAnnotation, isIdentityLabel } from '../identity/labels.ts';
import type { ServiceAccountIdentity } from '../identity/types.ts';
import { computeIdentity, serviceAccountLabelValue } from '../mutate/identity.ts';

/**
 * A JSON merge patch (RFC 7386) of a Pod's metadata. Why merge patch and not server-side apply:
 * the identity labels were written at creation by the mutating webhook, inside the creator's
 * request, so the API server records them as owned by the creator's field manager (the
 * ReplicaSet controller, kubectl...). An apply by idgate can only remove fields idgate's own
 * manager owns, so a revoked group's label would stay; a merge patch removes it with `null`.
 * The `metadata.resourceVersion` in the patch is a precondition: the API server answers 409
 * Conflict when the Pod changed since it was read (Kubernetes API concepts, "Resource versions").
 */
export interface IdentityPatch {
  readonly metadata: {
    readonly resourceVersion: string;
    readonly labels?: Readonly<Record<string, string | null>>;
    readonly annotations?: Readonly<Record<string, string | null>>;
  };
}

/** The label selector that finds the Pods idgate labelled for one ServiceAccount. */
export function serviceAccountSelector(serviceAccount: string): string {
  return `${LABEL_SERVICE_ACCOUNT}=${serviceAccountLabelValue(serviceAccount)}`;
}

/** Pods whose containers have all stopped for good carry no traffic: relabelling them is wasted writes. */
export function isFinished(pod: Pod): boolean {
  const phase = (pod.status as { phase?: unknown } | undefined)?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** The keys to set (value) or remove (null) so that `current` has exactly `computed` among the keys `isIdentity` claims. */
function diff(
  current: Readonly<Record<string, string>> | undefined,
  computed: Readonly<Record<string, string>>,
  isIdentity: (key: string) => boolean,
): Record<string, string | null> | undefined {
  const changes: Record<string, string | null> = {};
  for (const k of Object.keys(current ?? {})) if (isIdentity(k) && !(k in computed)) changes[k] = null;
  for (const [k, v] of Object.entries(computed)) if (current?.[k] !== v) changes[k] = v;
  return Object.keys(changes).length > 0 ? changes : undefined;
}

/**
 * The patch that gives `pod` the identity `identity` (the bindings' answer for its namespace and
 * ServiceAccount), or undefined when it already carries exactly that. User labels and
 * annotations are never touched; `idgate.dev/injected` keeps the Pod's own value (the sidecar
 * that version injected is still the one running).
 */
export function relabelPatch(pod: Pod, identity: Pick<ServiceAccountIdentity, 'groups' | 'bindings'>): IdentityPatch | undefined {
  const meta = pod.metadata ?? {};
  const computed = computeIdentity(serviceAccountOf(pod.spec), identity, meta.annotations?.[ANNOTATION_INJECTED]);
  const labels = diff(meta.labels, computed.labels, isIdentityLabel);
  const annotations = diff(meta.annotations, computed.annotations, isIdentityAnnotation);
  if (!labels && !annotations) return undefined;
  return {
    metadata: {
      resourceVersion: meta.resourceVersion ?? '',
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
  };
}

/** Group label keys a patch adds and removes, for the batch log line. */
export function summarizePatch(patch: IdentityPatch): { added: string[]; removed: string[] } {
  const entries = Object.entries(patch.metadata.labels ?? {});
  return {
    added: entries.filter(([, v]) => v !== null).map(([k]) => k),
    removed: entries.filter(([, v]) => v === null).map(([k]) => k),
  };
}
