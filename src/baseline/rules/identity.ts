/**
 * Identity integrity (docs/design.md#who-may-write-identity-labels): a group label on a Pod means the IdP put the
 * Pod's ServiceAccount in that group, so only idgate writes identity labels and annotations —
 * in every namespace that is not exempt, in every mode, through every way of writing a Pod's
 * metadata (CREATE, UPDATE, and `pods/status`, which the API server lets change labels).
 *
 * - Enrolled namespaces (`/validate`): a CREATE carries exactly what the bindings give, since
 *   the mutating webhook ran before; an UPDATE changes no identity key.
 * - Every other namespace (`/validate/integrity`): the mutation never runs there, so a Pod or a
 *   pod template carries no identity key at all, and an UPDATE changes none.
 * - On a running Pod, identity keys change only through idgate's own user (the relabel loop,
 *   docs/design.md#relabel), learned at start-up with a SelfSubjectReview.
 * `pod-identity-labels` is always enforced (evaluate.ts): one namespace in audit mode could
 * otherwise impersonate any group towards every other namespace's NetworkPolicies.
 */
import { isDeepStrictEqual } from 'node:util';
import { serviceAccountOf, type ObjectMeta, type Pod } from '../../admission/k8s.ts';
import { ANNOTATION_INJECTED, isIdentityAnnotation, isIdentityLabel, parseListAnnotation } from '../../identity/labels.ts';
import { computeIdentity } from '../../mutate/identity.ts';
import { isMirrorPod } from '../../mutate/should-inject.ts';
import { quote } from '../../text.ts';
import { FieldPath } from '../../lib/field-path.ts';
import type { Rule, RuleContext } from '../types.ts';
import { NAMESPACE_INJECT_LABEL, UNAVAILABLE_MESSAGE, writes, type Finding } from './common.ts';

const RULE = 'pod-identity-labels' as const;
const FIX = 'only idgate sets identity labels; remove it and let the injector compute them';
const LABELS = FieldPath.root('metadata', 'labels');

/** Identity labels and annotations present, as `[field, key]` pairs in a stable order. */
export function identityKeysOf(meta: ObjectMeta | undefined): Array<['labels' | 'annotations', string]> {
  return [
    ...Object.keys(meta?.labels ?? {})
      .filter(isIdentityLabel)
      .sort()
      .map((k): ['labels', string] => ['labels', k]),
    ...Object.keys(meta?.annotations ?? {})
      .filter(isIdentityAnnotation)
      .sort()
      .map((k): ['annotations', string] => ['annotations', k]),
  ];
}

const noun = (field: 'labels' | 'annotations'): string => (field === 'labels' ? 'label' : 'annotation');

/** A list annotation's names for comparison: absent reads as none, and an invalid value matches no expected set. */
function listAnnotation(value: string | undefined): string[] {
  const names = parseListAnnotation(value);
  return names === 'invalid' ? ['<invalid>'] : (names ?? []);
}

/**
 * CREATE in an enrolled namespace. The validating webhook runs after the mutating one, so a Pod
 * that went through the mutation carries exactly the computed identity:
 * - labels `idgate.dev/service-account` and one `group.idgate.dev/…` per group, annotations
 *   `idgate.dev/groups` and `idgate.dev/bindings` naming the same sets (JSON or comma list,
 *   any order; absent is fine when the set is empty), `idgate.dev/injected` with any value;
 * - none at all, unless the injector certainly ran (see below): then absence means the
 *   mutation was bypassed (failurePolicy Ignore) and is refused.
 * Anything else — a subset, an extra group, another value — is spoofing or staleness.
 */
function identityOnCreate(pod: Pod, ctx: RuleContext): Finding[] {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const present = identityKeysOf(pod.metadata);
  // Absence is suspicious only where the injector certainly ran: `mutation: apply` and the
  // namespace known to be enrolled (`idgate check` may not know the Namespace; a Pod without
  // identity labels is selected by no identity-based NetworkPolicy peer, so omission grants nothing).
  const injectorRan = ctx.baseline.mutation === 'apply' && ctx.identity.namespaceLabels(ctx.namespace)?.[NAMESPACE_INJECT_LABEL] === 'enabled';
  if (present.length === 0 && !injectorRan) return [];
  if (!ctx.identity.ready()) return [{ rule: RULE, path: LABELS.toString(), message: UNAVAILABLE_MESSAGE, unavailable: true }];
  const sa = serviceAccountOf(pod.spec);
  if (present.length === 0) {
    return [
      {
        rule: RULE,
        path: LABELS.toString(),
        message:
          `no identity labels, though namespace ${ctx.namespace} has ${NAMESPACE_INJECT_LABEL}=enabled: ` +
          'the mutating webhook did not run for this Pod; check its failurePolicy and retry',
      },
    ];
  }
  // The mutation's own function: injector and validator cannot disagree on the expected set.
  const identity = ctx.identity.resolve(ctx.namespace, sa, ctx.baseline.trustedIssuerSet);
  const { labels: expected, annotations: expectedAnnotations } = computeIdentity(sa, identity, undefined);
  const findings: Finding[] = [];
  for (const [field, key] of present) {
    const path = FieldPath.root('metadata', field).key(key).toString();
    if (field === 'labels') {
      if (!(key in expected)) findings.push({ rule: RULE, path, message: `not granted by any binding of ServiceAccount ${quote(sa)}; ${FIX}` });
      else if (labels[key] !== expected[key])
        findings.push({ rule: RULE, path, message: `is ${quote(labels[key])}, the bindings give ${quote(expected[key])}; ${FIX}` });
    } else if (key !== ANNOTATION_INJECTED && !(key in expectedAnnotations)) {
      findings.push({ rule: RULE, path, message: `not an annotation idgate sets; ${FIX}` });
    }
  }
  for (const key of Object.keys(expected)) {
    if (!(key in labels))
      findings.push({ rule: RULE, path: LABELS.key(key).toString(), message: `missing: the bindings of ServiceAccount ${quote(sa)} give it; ${FIX}` });
  }
  for (const [key, value] of Object.entries(expectedAnnotations)) {
    const want = listAnnotation(value);
    if (!isDeepStrictEqual(listAnnotation(annotations[key]), want)) {
      findings.push({
        rule: RULE,
        path: FieldPath.root('metadata', 'annotations').key(key).toString(),
        message: `is ${quote(annotations[key] ?? '(absent)')}, the bindings give ${quote(want.join(','))}; ${FIX}`,
      });
    }
  }
  return findings;
}

/** CREATE (Pod or template) in a namespace that is not enrolled: no identity key at all. */
export function identityKeysForbidden(meta: ObjectMeta | undefined, prefix: FieldPath, ctx: RuleContext): Finding[] {
  return identityKeysOf(meta).map(([field, key]) => ({
    rule: RULE,
    path: prefix.child('metadata', field).key(key).toString(),
    message:
      `identity ${noun(field)} in namespace ${ctx.namespace}, which is not enrolled: only idgate sets them, ` +
      `and only where namespaces carry ${NAMESPACE_INJECT_LABEL}=enabled; remove it`,
  }));
}

/**
 * UPDATE (and `pods/status` UPDATE): no identity key added, changed or removed, except by
 * idgate's own user (the relabel loop keeps running Pods in step with their bindings).
 */
function identityOnUpdate(pod: Pod, old: Pod | undefined, ctx: RuleContext): Finding[] {
  if (ctx.selfUsername !== undefined && ctx.user === ctx.selfUsername) return [];
  const via = ctx.subResource === 'status' ? ' through pods/status' : '';
  const findings: Finding[] = [];
  for (const field of ['labels', 'annotations'] as const) {
    const isIdentity = field === 'labels' ? isIdentityLabel : isIdentityAnnotation;
    const now = pod.metadata?.[field] ?? {};
    const before = old?.metadata?.[field] ?? {};
    const keys = new Set([...Object.keys(now), ...Object.keys(before)].filter(isIdentity));
    for (const key of [...keys].sort()) {
      if (now[key] === before[key]) continue;
      const change = !(key in before) ? 'added' : !(key in now) ? 'removed' : 'changed';
      findings.push({
        rule: RULE,
        path: FieldPath.root('metadata', field).key(key).toString(),
        message: `identity ${noun(field)} ${change} on a running Pod${via}; only idgate changes them, when bindings change`,
      });
    }
  }
  return findings;
}

/** Pods the identity rules judge: written (not deleted), not the kubelet's mirror pods. */
function judged(pod: Pod | undefined, ctx: RuleContext): pod is Pod {
  return pod !== undefined && writes(ctx) && !isMirrorPod(pod.metadata);
}

/** Rule pod-identity-labels, in an enrolled namespace (`/validate`). */
export const podIdentityLabels: Rule<Pod> = (object, oldObject, ctx) => {
  if (!judged(object, ctx)) return [];
  return ctx.operation === 'UPDATE' ? identityOnUpdate(object, oldObject, ctx) : identityOnCreate(object, ctx);
};

/** Rule pod-identity-labels, in a namespace that is not enrolled (`/validate/integrity`). */
export const podIdentityIntegrity: Rule<Pod> = (object, oldObject, ctx) => {
  if (!judged(object, ctx)) return [];
  return ctx.operation === 'UPDATE' ? identityOnUpdate(object, oldObject, ctx) : identityKeysForbidden(object.metadata, FieldPath.root(), ctx);
};
