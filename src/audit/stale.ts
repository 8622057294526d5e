/**
 * Stale identity (docs/design.md#audit-and-check: Pods whose identity labels are stale, a binding
 * changed after they started, are reported). Labels are set once, at Pod creation (docs/design.md#mutation);
 * a binding edited later changes what a new Pod would get, never a running one — so a Pod may
 * still carry a group that was revoked, and NetworkPolicies keep admitting it.
 *
 * A Pod is stale, not spoofed, when its identity labels are exactly what the injector computes
 * from the Pod's own `idgate.dev/groups` annotation (so idgate wrote them, at some time) while
 * the current bindings give other groups or bindings. Such a Pod would pass admission today
 * (the mutation recomputes its labels), so the finding never denies; the fix is a restart.
 * Anything else that differs stays with the rule pod-identity-labels as evaluate() reports it.
 */
import { isDeepStrictEqual } from 'node:util';
import { serviceAccountOf, type Pod } from '../admission/k8s.ts';
import { modeFor } from '../baseline/evaluate.ts';
import type { Baseline } from '../config/baseline.ts';
import { ANNOTATION_BINDINGS, ANNOTATION_GROUPS, isIdentityLabel, parseListAnnotation } from '../identity/labels.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { identityLabels } from '../mutate/identity.ts';
import { FieldPath } from '../lib/field-path.ts';
import type { ObjectRef, ReportFinding } from './report.ts';

/** What a stale Pod carries and what its bindings give now. */
export interface StaleIdentity {
  readonly serviceAccount: string;
  readonly carriedGroups: readonly string[];
  readonly currentGroups: readonly string[];
  readonly carriedBindings: readonly string[];
  readonly currentBindings: readonly string[];
}

/** The Pod's stale identity, or undefined when its labels are current, absent or not idgate's own. */
export function staleIdentity(pod: Pod, namespace: string, ctx: { baseline: Baseline; identity: IdentityResolver }): StaleIdentity | undefined {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const carriedGroups = parseListAnnotation(annotations[ANNOTATION_GROUPS]);
  if (!Array.isArray(carriedGroups)) return undefined;
  const serviceAccount = serviceAccountOf(pod.spec);
  const carriedLabels = Object.fromEntries(Object.entries(labels).filter(([k]) => isIdentityLabel(k)));
  // Not what the injector would have written for these groups: spoofing or tampering, not staleness.
  if (!isDeepStrictEqual(carriedLabels, identityLabels(serviceAccount, carriedGroups))) return undefined;
  const current = ctx.identity.resolve(namespace, serviceAccount, ctx.baseline.trustedIssuerSet);
  const bindings = parseListAnnotation(annotations[ANNOTATION_BINDINGS]);
  const carriedBindings = Array.isArray(bindings) ? bindings : [];
  if (isDeepStrictEqual(carriedGroups, [...current.groups]) && isDeepStrictEqual(carriedBindings, [...current.bindings])) return undefined;
  return { serviceAccount, carriedGroups, currentGroups: current.groups, carriedBindings, currentBindings: current.bindings };
}

const list = (xs: readonly string[]): string => (xs.length === 0 ? 'none' : xs.join(', '));

/** The report finding for a stale Pod (pod-identity-labels is never off, evaluate.ts ALWAYS_ENFORCED). */
export function staleFinding(ref: ObjectRef, stale: StaleIdentity, baseline: Baseline): ReportFinding | undefined {
  const mode = modeFor(baseline, 'pod-identity-labels', ref.namespace ?? '');
  if (mode === 'off') return undefined; // unreachable today; kept so a future mode change cannot report an off rule
  const revoked = stale.carriedGroups.filter((g) => !stale.currentGroups.includes(g));
  const granted = stale.currentGroups.filter((g) => !stale.carriedGroups.includes(g));
  const change =
    revoked.length + granted.length > 0
      ? `carries groups [${list(stale.carriedGroups)}], its bindings now give [${list(stale.currentGroups)}]` +
        (revoked.length > 0 ? ` (revoked: ${revoked.join(', ')})` : '')
      : `was labelled from bindings [${list(stale.carriedBindings)}], now [${list(stale.currentBindings)}]`;
  return {
    object: ref,
    rule: 'pod-identity-labels',
    path: FieldPath.root('metadata', 'labels').toString(),
    message:
      `identity labels are stale: the Pod ${change}; a binding changed after it started. ` +
      'Restart it (kubectl rollout restart) so the injector recomputes them',
    mode,
    denies: false,
    stale: true,
  };
}
