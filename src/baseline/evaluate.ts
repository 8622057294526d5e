/**
 * Runs the rules for an object and applies the enforcement actions (SPEC section 3, STYLE
 * habit 3: audit is an enforcement action, not a second code path). The webhook, `idgate audit`
 * and `idgate check` all judge through {@link evaluate} and read the same {@link Decision}.
 */
import type { KubeObject } from '../admission/k8s.ts';
import type { IdentityResolver } from '../identity/types.ts';
import type { Baseline, Mode, Operation, Rule, RuleContext, RuleId, Violation } from './types.ts';
import type { Finding } from './rules/common.ts';
import { bindingGroupOwnership, bindingTrustedIssuer } from './rules/binding.ts';
import {
  networkpolicyAllowAll, networkpolicyDefaultDeny, networkpolicyIdentityPeers, networkpolicyIpblockWorld,
  networkpolicyPolicyTypes, networkpolicyUnknownGroup,
} from './rules/networkpolicy.ts';
import { podHostNetwork, podIdentityLabels, podMaxGroups, podServiceAccount } from './rules/pod.ts';
import { podSidecar } from './rules/sidecar.ts';
import { TEMPLATE_PATHS, workloadTemplate } from './rules/workload.ts';

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
  ],
  OIDCGroupBinding: [
    { id: 'binding-trusted-issuer', check: bindingTrustedIssuer },
    { id: 'binding-group-ownership', check: bindingGroupOwnership },
  ],
});

/** Whether idgate judges objects of this kind at all. */
export function judgesKind(kind: string): boolean {
  return Object.hasOwn(RULES_BY_KIND, kind);
}

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
  readonly skipped?: 'exempt-namespace' | 'kind-not-judged';
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
  const podMode = modeFor(baseline, f.podRule, namespace);
  const override = baseline.rules['workload-template'];
  return override === undefined ? podMode : weaker(podMode, override);
}

/** Judges one object with every rule of its kind, and applies the modes. */
export function evaluate(input: EvaluateInput, ctx: { readonly baseline: Baseline; readonly identity: IdentityResolver }): Decision {
  const entries = RULES_BY_KIND[input.kind];
  if (entries === undefined) return { skipped: 'kind-not-judged', violations: [], unavailable: [], allowed: true, retryable: false };
  const { baseline } = ctx;
  const object = input.object ?? undefined;
  let oldObject = input.oldObject ?? undefined;
  if (input.operation === 'DELETE' && oldObject === undefined && input.name !== undefined) {
    oldObject = { kind: input.kind, metadata: { name: input.name, namespace: input.namespace } };
  }
  const namespace = input.namespace || object?.metadata?.namespace || oldObject?.metadata?.namespace || '';
  if (baseline.exemptNamespaces.includes(namespace)) {
    return { skipped: 'exempt-namespace', violations: [], unavailable: [], allowed: true, retryable: false };
  }
  const ruleCtx: RuleContext = { baseline, identity: ctx.identity, operation: input.operation, namespace };
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
        rule: f.rule, path: f.path, message: f.message, mode, denies,
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
