/**
 * Runs the rules for an object and applies the enforcement actions (docs/design.md#modes:
 * audit is an enforcement action, not a second code path). The webhook, `idgate audit`
 * and `idgate check` all judge through {@link evaluate} and read the same {@link Decision}.
 */
import type { KubeObject } from '../admission/k8s.ts';
import type { Operation } from '../admission/types.ts';
import type { IdentityResolver } from '../identity/types.ts';
import type { Baseline, Mode, RuleId } from '../config/baseline.ts';
import type { Rule, RuleContext, Violation } from './types.ts';
import type { Finding } from './rules/common.ts';
import { bindingGroupOwnership, bindingTrustedIssuer } from './rules/binding.ts';
import {
  networkpolicyAllowAll,
  networkpolicyIdentityPeers,
  networkpolicyIpblockWorld,
  networkpolicyPolicyTypes,
  networkpolicyUnknownGroup,
} from './rules/networkpolicy.ts';
import { networkpolicyDefaultDeny } from './rules/default-deny.ts';
import { podIdentityIntegrity, podIdentityLabels } from './rules/identity.ts';
import { podHostNetwork, podMaxGroups, podServiceAccount } from './rules/pod.ts';
import { podSidecar } from './rules/sidecar.ts';
import { networkpolicySidecarPort } from './rules/sidecar-port.ts';
import { TEMPLATE_PATHS, workloadIdentityIntegrity, workloadTemplate } from './rules/workload.ts';

/** One rule of the registry. */
export interface RuleEntry {
  readonly id: RuleId;
  // Each rule is typed for its kind; the registry dispatches by kind, so the cast is safe.
  readonly check: Rule<never>;
}

/** The registry: which rules judge which kind (request.kind.kind / manifest kind). */
export const RULES_BY_KIND: Readonly<Record<string, readonly RuleEntry[]>> = Object.freeze({
  Pod: [
    { id: 'pod-identity-labels', check: podIdentityLabels },
    { id: 'pod-service-account', check: podServiceAccount },
    { id: 'pod-host-network', check: podHostNetwork },
    { id: 'pod-sidecar', check: podSidecar },
    { id: 'pod-max-groups', check: podMaxGroups },
  ],
  ...Object.fromEntries(Object.keys(TEMPLATE_PATHS).map((kind) => [kind, [{ id: 'workload-template', check: workloadTemplate }]])),
  NetworkPolicy: [
    { id: 'networkpolicy-policy-types', check: networkpolicyPolicyTypes },
    { id: 'networkpolicy-allow-all', check: networkpolicyAllowAll },
    { id: 'networkpolicy-identity-peers', check: networkpolicyIdentityPeers },
    { id: 'networkpolicy-ipblock-world', check: networkpolicyIpblockWorld },
    { id: 'networkpolicy-unknown-group', check: networkpolicyUnknownGroup },
    { id: 'networkpolicy-default-deny', check: networkpolicyDefaultDeny },
    { id: 'networkpolicy-sidecar-port', check: networkpolicySidecarPort },
  ],
  OIDCGroupBinding: [
    { id: 'binding-trusted-issuer', check: bindingTrustedIssuer },
    { id: 'binding-group-ownership', check: bindingGroupOwnership },
  ],
});

/**
 * Identity integrity only (docs/design.md#enrolled-and-plain-namespaces): what
 * `/validate/integrity` judges in namespaces that are not enrolled — Pods and pod templates carry
 * no identity keys, running Pods keep theirs.
 */
export const INTEGRITY_RULES_BY_KIND: Readonly<Record<string, readonly RuleEntry[]>> = Object.freeze({
  Pod: [{ id: 'pod-identity-labels', check: podIdentityIntegrity }],
  ...Object.fromEntries(Object.keys(TEMPLATE_PATHS).map((kind) => [kind, [{ id: 'workload-template', check: workloadIdentityIntegrity }]])),
});

/**
 * What a review is judged for, said by the path it arrives on (docs/design.md#scope-by-path): `baseline`
 * (`/validate`, enrolled namespaces: every rule) or `integrity` (`/validate/integrity`, every
 * other non-exempt namespace). No cache lookup decides it.
 */
export type Scope = 'baseline' | 'integrity';

const registryFor = (scope: Scope): Readonly<Record<string, readonly RuleEntry[]>> => (scope === 'integrity' ? INTEGRITY_RULES_BY_KIND : RULES_BY_KIND);

/** Whether idgate judges objects of this kind at all (in the scope). */
export function judgesKind(kind: string, scope: Scope = 'baseline'): boolean {
  return Object.hasOwn(registryFor(scope), kind);
}

/**
 * Rules no mode softens: with identity labels spoofable in one audit-mode namespace, every
 * NetworkPolicy of every other namespace could be walked around (docs/design.md#modes). The
 * baseline loader refuses `audit` or `off` for them; namespace and global modes do not apply.
 */
export const ALWAYS_ENFORCED: ReadonlySet<RuleId> = new Set<RuleId>(['pod-identity-labels']);

/** What is judged. `object` is absent on DELETE, where the object is in `oldObject`. */
export interface EvaluateInput {
  readonly kind: string;
  readonly operation: Operation;
  /** The request's namespace (Pods from controllers carry none in metadata yet). */
  readonly namespace: string;
  readonly object?: KubeObject | null;
  readonly oldObject?: KubeObject | null;
  /** The request's name, for a DELETE whose oldObject the API server did not send. */
  readonly name?: string;
  /** Which rules apply (default `baseline`). */
  readonly scope?: Scope;
  /** `request.subResource`. */
  readonly subResource?: string;
  /** `request.userInfo.username`. */
  readonly user?: string;
  /** idgate's own username, once learned. */
  readonly selfUsername?: string;
}

/** A violation with its enforcement action. */
export interface JudgedViolation extends Violation {
  /** Effective mode: `off` violations are not listed at all. */
  readonly mode: Exclude<Mode, 'off'>;
  /** Whether it denies the request: mode enforce and not warnOnly. */
  readonly denies: boolean;
  /** workload-template: the pod rule the template breaks. */
  readonly podRule?: RuleId;
}

/** The outcome of {@link evaluate}: what was found, in which mode, and whether the request passes. */
export interface Decision {
  /** Set when nothing was judged, and why. */
  readonly skipped?: 'exempt-namespace' | 'kind-not-judged' | 'being-deleted';
  /** Every violation whose effective mode is enforce or audit. */
  readonly violations: readonly JudgedViolation[];
  /**
   * Identity-dependent checks that could not run (the identity cache is syncing). `denies` is
   * set when their mode is enforce and `identity.onUnavailable` is deny: a retryable denial.
   */
  readonly unavailable: readonly JudgedViolation[];
  /** False when any violation or unavailable check denies. */
  readonly allowed: boolean;
  /** Denied only because the identity cache is syncing: the same request may pass shortly. */
  readonly retryable: boolean;
}

const STRENGTH: Record<Mode, number> = { off: 0, audit: 1, enforce: 2 };
const weaker = (a: Mode, b: Mode): Mode => (STRENGTH[a] <= STRENGTH[b] ? a : b);

/** The mode of a rule in a namespace: the rule's override, else the namespace's, else the global mode. */
export function modeFor(baseline: Baseline, rule: RuleId, namespace: string): Mode {
  if (ALWAYS_ENFORCED.has(rule)) return 'enforce';
  return baseline.rules[rule] ?? baseline.namespaces[namespace]?.mode ?? baseline.mode;
}

/**
 * The mode of a finding. A workload-template finding is judged as its Pods will be — with the
 * mode of the pod rule it breaks — so a Deployment is refused exactly when its Pods would be.
 * An explicit `rules.workload-template` can only soften that (the weaker of the two): `audit`
 * or `off` there relaxes template checks without touching Pods; it cannot make a template
 * stricter than the Pods it creates.
 */
export function findingMode(baseline: Baseline, f: Finding, namespace: string): Mode {
  if (f.rule !== 'workload-template' || f.podRule === undefined) return modeFor(baseline, f.rule, namespace);
  if (ALWAYS_ENFORCED.has(f.podRule)) return 'enforce';
  const podMode = modeFor(baseline, f.podRule, namespace);
  const override = baseline.rules['workload-template'];
  return override === undefined ? podMode : weaker(podMode, override);
}

/**
 * An UPDATE of an object being deleted: it waits only for its finalizers to come off (the garbage
 * collector, the namespace controller, operators), and refusing any UPDATE of it wedges the
 * deletion (docs/design.md#what-is-never-refused). Nothing is judged — except on Pods, whose UPDATE
 * rules judge only identity keys and a swapped sidecar image, which no finalizer removal touches: a
 * terminating Pod can stay selected by NetworkPolicies for its whole grace period, so a group label
 * added then is still spoofing.
 */
export function beingDeleted(operation: Operation, object: KubeObject | null | undefined): boolean {
  return operation === 'UPDATE' && object?.kind !== 'Pod' && Boolean(object?.metadata?.deletionTimestamp);
}

/** Judges one object with every rule of its kind, and applies the modes. */
export function evaluate(input: EvaluateInput, ctx: { readonly baseline: Baseline; readonly identity: IdentityResolver }): Decision {
  const entries = registryFor(input.scope ?? 'baseline')[input.kind];
  if (entries === undefined) return { skipped: 'kind-not-judged', violations: [], unavailable: [], allowed: true, retryable: false };
  const { baseline } = ctx;
  const object = input.object ?? undefined;
  if (beingDeleted(input.operation, object)) {
    return { skipped: 'being-deleted', violations: [], unavailable: [], allowed: true, retryable: false };
  }
  let oldObject = input.oldObject ?? undefined;
  if (input.operation === 'DELETE' && oldObject === undefined && input.name !== undefined) {
    oldObject = { kind: input.kind, metadata: { name: input.name, namespace: input.namespace } };
  }
  const namespace = input.namespace || object?.metadata?.namespace || oldObject?.metadata?.namespace || '';
  if (baseline.exemptNamespaces.includes(namespace)) {
    return { skipped: 'exempt-namespace', violations: [], unavailable: [], allowed: true, retryable: false };
  }
  const ruleCtx: RuleContext = {
    baseline,
    identity: ctx.identity,
    operation: input.operation,
    namespace,
    ...(input.subResource !== undefined ? { subResource: input.subResource } : {}),
    ...(input.user !== undefined ? { user: input.user } : {}),
    ...(input.selfUsername !== undefined ? { selfUsername: input.selfUsername } : {}),
  };
  const violations: JudgedViolation[] = [];
  const unavailable: JudgedViolation[] = [];
  for (const entry of entries) {
    // Skip rules that are off everywhere they could report (workload-template checks its pod rules' modes below).
    if (entry.id !== 'workload-template' && modeFor(baseline, entry.id, namespace) === 'off') continue;
    for (const f of runRule(entry, object, oldObject, ruleCtx)) {
      const mode = findingMode(baseline, f, namespace);
      if (mode === 'off') continue;
      const denies = mode === 'enforce' && f.warnOnly !== true && (!f.unavailable || baseline.identity.onUnavailable === 'deny');
      const judged: JudgedViolation = {
        rule: f.rule,
        path: f.path,
        message: f.message,
        mode,
        denies,
        ...(f.warnOnly ? { warnOnly: true } : {}),
        ...(f.podRule ? { podRule: f.podRule } : {}),
      };
      (f.unavailable ? unavailable : violations).push(judged);
    }
  }
  const deniedByViolation = violations.some((v) => v.denies);
  const deniedByUnavailable = unavailable.some((v) => v.denies);
  return {
    violations,
    unavailable,
    allowed: !deniedByViolation && !deniedByUnavailable,
    retryable: deniedByUnavailable && !deniedByViolation,
  };
}

/**
 * Runs one rule. Rules read untrusted JSON defensively, but `idgate check` feeds them any
 * manifest: a rule that still throws fails closed, as a violation naming the rule.
 */
function runRule(entry: RuleEntry, object: KubeObject | undefined, oldObject: KubeObject | undefined, ctx: RuleContext): Finding[] {
  try {
    return (entry.check as Rule)(object, oldObject, ctx);
  } catch (err) {
    return [{ rule: entry.id, path: '', message: `could not be evaluated on this object (${(err as Error).message}); fix the object's shape` }];
  }
}
