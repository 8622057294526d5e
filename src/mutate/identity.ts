/**
 * The identity labels and annotations of a Pod (docs/design.md#identity-labels and
 * docs/design.md#mutation, step 2). Pure; the validation rule pod-identity-labels computes the expected set with the
 * same functions, so mutation and validation cannot disagree.
 */
import type { ServiceAccountIdentity } from '../identity/types.ts';
import {
  ANNOTATION_BINDINGS,
  ANNOTATION_GROUPS,
  ANNOTATION_INJECTED,
  LABEL_SERVICE_ACCOUNT,
  encodeGroup,
  groupLabelKey,
  isIdentityAnnotation,
  isIdentityLabel,
} from '../identity/labels.ts';

/** The identity labels and annotations idgate computes for a Pod; nothing else is idgate's. */
export interface IdentityMetadata {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * The label value for a ServiceAccount name. ServiceAccount names are DNS subdomains of up
 * to 253 characters but label values stop at 63 (apimachinery IsValidLabelValue), so the
 * name goes through the group encoding: unchanged for every name a label can hold, shortened
 * with a hash suffix otherwise (instead of a Pod the API server would reject).
 */
export function serviceAccountLabelValue(serviceAccount: string): string {
  return encodeGroup(serviceAccount);
}

/** `idgate.dev/service-account` and one `group.idgate.dev/<encoded>: "true"` per group. */
export function identityLabels(serviceAccount: string, groups: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = { [LABEL_SERVICE_ACCOUNT]: serviceAccountLabelValue(serviceAccount) };
  for (const g of groups) labels[groupLabelKey(g)] = 'true';
  return labels;
}

/**
 * The identity annotations:
 * - `idgate.dev/groups`: JSON list of the real group names (a group may contain commas or
 *   slashes, so only JSON round-trips every name);
 * - `idgate.dev/bindings`: comma list of the bindings' `namespace/name`, sorted. A comma list
 *   because neither part can contain a comma (both are DNS names), and it reads well in
 *   `kubectl describe`; empty when no binding applies (the annotation is still set, so "no
 *   groups" is visibly a decision, not a missed Pod);
 * - `idgate.dev/injected`: the idgate version, only when the Pod carries the sidecar.
 * With `identity` undefined (identity cache unavailable and the baseline says allow), the
 * groups and bindings annotations are left out rather than claiming "no groups".
 */
export function identityAnnotations(
  identity: Pick<ServiceAccountIdentity, 'groups' | 'bindings'> | undefined,
  injectedVersion: string | undefined,
): Record<string, string> {
  const annotations: Record<string, string> = {};
  if (identity !== undefined) {
    annotations[ANNOTATION_GROUPS] = JSON.stringify(identity.groups);
    annotations[ANNOTATION_BINDINGS] = identity.bindings.join(',');
  }
  if (injectedVersion !== undefined) annotations[ANNOTATION_INJECTED] = injectedVersion;
  return annotations;
}

/**
 * The computed identity metadata of a Pod of `serviceAccount`. `identity` undefined means
 * the groups are unknown: only the ServiceAccount label is set.
 */
export function computeIdentity(
  serviceAccount: string,
  identity: Pick<ServiceAccountIdentity, 'groups' | 'bindings'> | undefined,
  injectedVersion: string | undefined,
): IdentityMetadata {
  return {
    labels: identityLabels(serviceAccount, identity?.groups ?? []),
    annotations: identityAnnotations(identity, injectedVersion),
  };
}

/**
 * `current` with every key `isIdentity` claims removed and `computed` added: spoofed identity
 * keys disappear, the user's own keys stay untouched.
 */
export function replaceIdentityKeys(
  current: Readonly<Record<string, string>> | undefined,
  computed: Readonly<Record<string, string>>,
  isIdentity: (key: string) => boolean,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [k, v] of Object.entries(current ?? {})) if (!isIdentity(k)) result[k] = v;
  return Object.assign(result, computed);
}

/** The Pod's labels after step 2: user labels kept, identity labels exactly `computed`. */
export function desiredLabels(current: Readonly<Record<string, string>> | undefined, computed: IdentityMetadata): Record<string, string> {
  return replaceIdentityKeys(current, computed.labels, isIdentityLabel);
}

/** The Pod's annotations after step 2: user annotations kept, identity annotations exactly `computed`. */
export function desiredAnnotations(current: Readonly<Record<string, string>> | undefined, computed: IdentityMetadata): Record<string, string> {
  return replaceIdentityKeys(current, computed.annotations, isIdentityAnnotation);
}
