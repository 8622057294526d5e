/**
 * The default-deny decision (docs/design.md#default-deny), pure: what `idgate-default-deny` should look like
 * in a namespace, and what to do about the one there now.
 */
import { isDeepStrictEqual } from 'node:util';
import type { NetworkPolicy } from '../admission/k8s.ts';
import { DEFAULT_DENY_NAME } from '../baseline/rules/default-deny.ts';
import { LABEL_SERVICE_ACCOUNT } from '../identity/labels.ts';

export { DEFAULT_DENY_NAME };

/**
 * The namespace label that enrols a namespace (docs/design.md#enrolled-and-plain-namespaces), as
 * the webhooks' namespaceSelector.
 */
export const ENROLMENT_LABEL = 'idgate.dev/inject';
export const ENROLMENT_VALUE = 'enabled';

/**
 * Marks the policy as idgate's: only a policy carrying it is deleted when a namespace leaves
 * enrolment (one a team wrote under the same name before enrolling stays theirs).
 * `app.kubernetes.io/managed-by` is the recommended label for this (Kubernetes docs,
 * "Recommended Labels").
 */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'idgate';

/**
 * The spec: selects every injected Pod (`idgate.dev/service-account` exists) and admits no
 * ingress — `policyTypes: [Ingress]` with no ingress rules isolates the selected Pods for
 * ingress (networking.k8s.io/v1 NetworkPolicySpec). Pods idgate did not inject (no identity
 * label) are not selected: the namespace's other traffic is none of idgate's business.
 * Egress is left alone: callers authenticate to the sidecar, and cutting egress would break
 * DNS and every outbound call.
 */
export function defaultDenySpec(): NonNullable<NetworkPolicy['spec']> {
  return {
    podSelector: { matchExpressions: [{ key: LABEL_SERVICE_ACCOUNT, operator: 'Exists' }] },
    policyTypes: ['Ingress'],
  };
}

/** The whole object idgate creates in `namespace`. */
export function defaultDenyPolicy(namespace: string): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: DEFAULT_DENY_NAME,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: {
        'idgate.dev/description': 'Created by idgate: isolates injected Pods for ingress; admit callers with your own NetworkPolicies on the proxy port.',
      },
    },
    spec: defaultDenySpec(),
  };
}

/** Is the namespace enrolled, judging by its labels (undefined: the namespace is unknown or gone). */
export function isEnrolled(labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels?.[ENROLMENT_LABEL] === ENROLMENT_VALUE;
}

/**
 * The spec as it means: absent and empty lists are the same, the order of policyTypes is not
 * significant, and so the API server's defaulting never reads as a change.
 */
function normalized(spec: NetworkPolicy['spec']): unknown {
  const ingress = spec?.ingress ?? [];
  const egress = spec?.egress ?? [];
  return {
    podSelector: {
      matchLabels: spec?.podSelector?.matchLabels ?? {},
      matchExpressions: spec?.podSelector?.matchExpressions ?? [],
    },
    policyTypes: [...(spec?.policyTypes ?? [])].sort(),
    ingress,
    egress,
  };
}

/** What to do about one namespace's `idgate-default-deny`. */
export type DefaultDenyAction =
  | { readonly kind: 'none'; readonly reason: 'in-place' | 'not-enrolled' | 'not-ours' }
  | { readonly kind: 'create'; readonly policy: NetworkPolicy }
  /** Put the spec back (and the managed-by label), with the resourceVersion read as precondition. */
  | { readonly kind: 'restore'; readonly policy: NetworkPolicy }
  | { readonly kind: 'delete'; readonly resourceVersion: string };

export interface DefaultDenyInput {
  readonly namespace: string;
  /** Namespace labels, undefined when the namespace is gone. */
  readonly namespaceLabels: Readonly<Record<string, string>> | undefined;
  /** Exempt namespaces (the baseline's) are never touched. */
  readonly exempt: boolean;
  /** The `idgate-default-deny` there now, if any. */
  readonly current: NetworkPolicy | undefined;
}

/** Decides; never performs I/O. */
export function decideDefaultDeny(input: DefaultDenyInput): DefaultDenyAction {
  const { namespace, current } = input;
  const wanted = !input.exempt && isEnrolled(input.namespaceLabels);
  if (!wanted) {
    if (!current) return { kind: 'none', reason: 'not-enrolled' };
    // A namespace that is gone takes its policies with it (the namespace controller deletes them).
    if (input.namespaceLabels === undefined) return { kind: 'none', reason: 'not-enrolled' };
    if (current.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return { kind: 'none', reason: 'not-ours' };
    return { kind: 'delete', resourceVersion: current.metadata?.resourceVersion ?? '' };
  }
  if (!current) return { kind: 'create', policy: defaultDenyPolicy(namespace) };
  const ours = current.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  if (ours && isDeepStrictEqual(normalized(current.spec), normalized(defaultDenySpec()))) return { kind: 'none', reason: 'in-place' };
  // Keep whatever else the object carries (other labels, annotations); only the spec is idgate's.
  return {
    kind: 'restore',
    policy: {
      ...current,
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        ...current.metadata,
        name: current.metadata?.name ?? '',
        namespace,
        labels: { ...current.metadata?.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      },
      spec: defaultDenySpec(),
    },
  };
}
