/**
 * OIDCGroupBinding rules (docs/design.md#oidcgroupbinding, #rules): a binding may only name a trusted issuer, and
 * only grant groups its namespace owns. Group ownership is what keeps one namespace from
 * granting itself a group another namespace's NetworkPolicies trust.
 */
import type { OIDCGroupBindingObject } from '../../admission/k8s.ts';
import { quote } from '../../text.ts';
import { FieldPath } from '../../lib/field-path.ts';
import type { Rule } from '../types.ts';
import { asArray, globToRegExp, writes, type Finding } from './common.ts';

/** binding-trusted-issuer: spec.issuer is one of the baseline's trustedIssuers (exact string, as OIDC compares `iss`). */
export const bindingTrustedIssuer: Rule<OIDCGroupBindingObject> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx)) return [];
  const issuer = object.spec?.issuer;
  if (typeof issuer === 'string' && ctx.baseline.trustedIssuerSet.has(issuer)) return [];
  return [
    {
      rule: 'binding-trusted-issuer',
      path: FieldPath.root('spec', 'issuer').toString(),
      message:
        `${typeof issuer === 'string' ? quote(issuer) : 'missing issuer'} is not a trusted issuer ` +
        `(${ctx.baseline.trustedIssuers.join(', ')}); the binding would grant nothing`,
    },
  ];
};

/**
 * binding-group-ownership: every group matches one of `namespaces[ns].allowedGroups` (`*` is
 * the only wildcard). Decided: a namespace without allowedGroups may grant no group — fail
 * closed, since any group it could grant is a group some other namespace's NetworkPolicies may
 * admit. Operators open it by listing the namespace's patterns, or relax the rule's mode.
 */
export const bindingGroupOwnership: Rule<OIDCGroupBindingObject> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx)) return [];
  const namespace = object.metadata?.namespace ?? ctx.namespace;
  const patterns = ctx.baseline.namespaces[namespace]?.allowedGroups;
  const findings: Finding[] = [];
  const matchers = (patterns ?? []).map(globToRegExp);
  asArray<unknown>(object.spec?.groups).forEach((group, i) => {
    if (typeof group === 'string' && matchers.some((re) => re.test(group))) return;
    findings.push({
      rule: 'binding-group-ownership',
      path: FieldPath.root('spec', 'groups').index(i).toString(),
      message:
        patterns === undefined
          ? `namespace ${namespace} owns no groups: add namespaces.${namespace}.allowedGroups to the baseline to grant ${quote(group)}`
          : `${quote(group)} is outside namespace ${namespace}'s allowedGroups (${patterns.join(', ') || 'none'})`,
    });
  });
  return findings;
};
