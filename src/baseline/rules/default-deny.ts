/**
 * networkpolicy-default-deny (docs/design.md#rules): the per-namespace `idgate-default-deny`
 * policy may not be deleted or weakened, except by idgate itself and by the controllers that
 * empty a namespace.
 */
import { isDeepStrictEqual } from 'node:util';
import type { NetworkPolicy } from '../../admission/k8s.ts';
import { FieldPath } from '../../lib/field-path.ts';
import type { Rule, RuleContext } from '../types.ts';
import { asArray, isEmptySelector, type Finding } from './common.ts';

/** The per-namespace default-deny policy idgate's manifests install and this rule protects. */
export const DEFAULT_DENY_NAME = 'idgate-default-deny';

const SPEC = FieldPath.root('spec');

/** Policy types in effect: explicit ones, else Ingress plus Egress when egress rules exist (NetworkPolicySpec.policyTypes). */
function effectiveTypes(np: NetworkPolicy): string[] {
  const explicit = asArray<string>(np.spec?.policyTypes);
  if (explicit.length > 0) return explicit;
  return asArray(np.spec?.egress).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/**
 * The cluster's own controllers that delete a namespace's contents: the namespace controller
 * (a terminating namespace's delete-collection, `../shared/k8s-recorded/reviews`) and the
 * garbage collector (owner references, foreground deletion). Refusing them leaves a namespace
 * Terminating for ever.
 */
const CLEANUP_CONTROLLERS: ReadonlySet<string> = new Set([
  'system:serviceaccount:kube-system:namespace-controller',
  'system:serviceaccount:kube-system:generic-garbage-collector',
]);

/**
 * Who may change or remove `idgate-default-deny` (docs/design.md#rules): idgate itself (the
 * default-deny loop restores and removes it), the namespace controller and the garbage
 * collector, and anyone once the namespace is terminating (everything in it goes anyway).
 */
function mayManageDefaultDeny(ctx: RuleContext): boolean {
  if (ctx.user !== undefined && (ctx.user === ctx.selfUsername || CLEANUP_CONTROLLERS.has(ctx.user))) return true;
  return ctx.identity.namespaceTerminating(ctx.namespace);
}

/**
 * networkpolicy-default-deny: `idgate-default-deny` may not be deleted, and an UPDATE may not
 * weaken it. Weakening, precisely — the new policy:
 * (a) selects other Pods: its podSelector differs from the old one (a `{}` must stay `{}`);
 * (b) drops a policy type the old one had in effect (Ingress, or Egress);
 * (c) has an ingress rule that is not identical to one of the old rules (removing rules only
 *     tightens; any added or edited rule may admit more, and is refused without trying to
 *     prove it narrower);
 * (d) the same for egress rules, when the old policy governed Egress.
 */
export const networkpolicyDefaultDeny: Rule<NetworkPolicy> = (object, oldObject, ctx) => {
  const rule = 'networkpolicy-default-deny' as const;
  if (mayManageDefaultDeny(ctx)) return [];
  if (ctx.operation === 'DELETE') {
    if (oldObject?.metadata?.name !== DEFAULT_DENY_NAME) return [];
    return [
      {
        rule,
        path: FieldPath.root('metadata', 'name').toString(),
        message: `deleting ${DEFAULT_DENY_NAME} lifts namespace ${ctx.namespace}'s default deny, opening every Pod to every caller; keep it`,
      },
    ];
  }
  if (ctx.operation !== 'UPDATE' || object === undefined || oldObject === undefined || oldObject.metadata?.name !== DEFAULT_DENY_NAME) return [];
  const findings: Finding[] = [];
  if (
    !isDeepStrictEqual(object.spec?.podSelector ?? {}, oldObject.spec?.podSelector ?? {}) &&
    !(isEmptySelector(object.spec?.podSelector ?? {}) && isEmptySelector(oldObject.spec?.podSelector ?? {}))
  ) {
    const message = `${DEFAULT_DENY_NAME} must keep selecting the same Pods (podSelector: {} selects them all)`;
    findings.push({ rule, path: SPEC.child('podSelector').toString(), message });
  }
  const types = effectiveTypes(object);
  const oldTypes = effectiveTypes(oldObject);
  const dropped = oldTypes.filter((t) => !types.includes(t));
  if (dropped.length > 0)
    findings.push({
      rule,
      path: SPEC.child('policyTypes').toString(),
      message: `${DEFAULT_DENY_NAME} must keep policy type ${dropped.join(', ')}; dropping it lifts the default deny`,
    });
  for (const [section, type] of [
    ['ingress', 'Ingress'],
    ['egress', 'Egress'],
  ] as const) {
    if (!oldTypes.includes(type) || !types.includes(type)) continue;
    const before = asArray(oldObject.spec?.[section]);
    asArray(object.spec?.[section]).forEach((r, i) => {
      if (!before.some((b) => isDeepStrictEqual(b, r))) {
        findings.push({
          rule,
          path: SPEC.child(section).index(i).toString(),
          message: `adds or widens an ${section} rule of ${DEFAULT_DENY_NAME}; write a separate, narrower NetworkPolicy instead`,
        });
      }
    });
  }
  return findings;
};
