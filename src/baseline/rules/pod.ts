/**
 * Pod rules (docs/design.md#rules): ServiceAccount, host network, group count (identity labels are
 * identity.ts's, the sidecar sidecar.ts's). Each check works on a {@link PodView} with a path prefix, so workload.ts judges a pod
 * template with the same code and paths that point into the template.
 *
 * Pod UPDATE: a Pod's spec is immutable except images and a few scheduling fields
 * (apimachinery ValidatePodUpdate), so a violation in it can only stem from an admission in
 * audit/off mode or from a since-changed binding. Re-judging it on every metadata update
 * (controllers add finalizers, owner references, labels) would wedge those controllers; so on
 * UPDATE only identity label changes (spoofing) and sidecar changes (its image is mutable) are
 * judged. `idgate audit` reports the rest.
 */
import { serviceAccountOf, type ObjectMeta, type Pod, type PodSpec } from '../../admission/k8s.ts';
import { isMirrorPod } from '../../mutate/should-inject.ts';
import { quote } from '../../text.ts';
import type { RuleId } from '../../config/baseline.ts';
import { FieldPath } from '../../lib/field-path.ts';
import type { Rule, RuleContext } from '../types.ts';
import { UNAVAILABLE_MESSAGE, writes, type Finding } from './common.ts';

/** A Pod, or a pod template, with the path of the Pod within the object (the root, or `spec.template`). */
export interface PodView {
  readonly meta: ObjectMeta | undefined;
  readonly spec: PodSpec | undefined;
  readonly prefix: FieldPath;
}

const unavailable = (rule: RuleId, path: FieldPath): Finding => ({ rule, path: path.toString(), message: UNAVAILABLE_MESSAGE, unavailable: true });

/** Pods the pod rules judge at all: not deleted, not the kubelet's mirror pods. */
export function judged(pod: Pod | undefined, ctx: RuleContext): pod is Pod {
  return pod !== undefined && writes(ctx) && !isMirrorPod(pod.metadata);
}

export const podView = (pod: Pod): PodView => ({ meta: pod.metadata, spec: pod.spec, prefix: FieldPath.root() });

function saPath(v: PodView): FieldPath {
  return v.prefix.child('spec', v.spec?.serviceAccountName ? 'serviceAccountName' : v.spec?.serviceAccount ? 'serviceAccount' : 'serviceAccountName');
}

/** pod-service-account: not `default`, and bound to at least one group by a trusted binding. */
export function checkServiceAccount(v: PodView, ctx: RuleContext): Finding[] {
  const sa = serviceAccountOf(v.spec);
  const path = saPath(v);
  if (sa === 'default') {
    return [
      {
        rule: 'pod-service-account',
        path: path.toString(),
        message:
          `uses the "default" ServiceAccount, which every workload of namespace ${ctx.namespace} shares; ` +
          'create a dedicated ServiceAccount, bind it with an OIDCGroupBinding and set spec.serviceAccountName',
      },
    ];
  }
  if (!ctx.identity.ready()) return [unavailable('pod-service-account', path)];
  const { groups } = ctx.identity.resolve(ctx.namespace, sa, ctx.baseline.trustedIssuerSet);
  if (groups.length > 0) return [];
  return [
    {
      rule: 'pod-service-account',
      path: path.toString(),
      message:
        `ServiceAccount ${quote(sa)} has no OIDCGroupBinding with a trusted issuer in namespace ${ctx.namespace}, ` +
        'so it has no identity; add one that lists it in spec.serviceAccounts',
    },
  ];
}

/** pod-max-groups: the ServiceAccount's groups stay within identity.maxGroupsPerServiceAccount. */
export function checkMaxGroups(v: PodView, ctx: RuleContext): Finding[] {
  const sa = serviceAccountOf(v.spec);
  if (sa === 'default') return [];
  if (!ctx.identity.ready()) return [unavailable('pod-max-groups', saPath(v))];
  const { groups } = ctx.identity.resolve(ctx.namespace, sa, ctx.baseline.trustedIssuerSet);
  const max = ctx.baseline.identity.maxGroupsPerServiceAccount;
  if (groups.length <= max) return [];
  return [
    {
      rule: 'pod-max-groups',
      path: saPath(v).toString(),
      message:
        `ServiceAccount ${quote(sa)} has ${groups.length} groups, more than the baseline's ${max} ` +
        '(keep claims small): split the workload across ServiceAccounts or trim its OIDCGroupBindings',
    },
  ];
}

/** pod-host-network: NetworkPolicy does not apply to host-network Pods. */
export function checkHostNetwork(v: PodView): Finding[] {
  if (v.spec?.hostNetwork !== true) return [];
  return [
    {
      rule: 'pod-host-network',
      path: v.prefix.child('spec', 'hostNetwork').toString(),
      message: 'hostNetwork: true puts the Pod on the node network, where no NetworkPolicy applies and no sidecar is injected; remove it',
    },
  ];
}

/** Rule pod-service-account (CREATE only, see the file comment). */
export const podServiceAccount: Rule<Pod> = (object, _old, ctx) =>
  judged(object, ctx) && ctx.operation === 'CREATE' ? checkServiceAccount(podView(object), ctx) : [];

/** Rule pod-host-network (CREATE only). */
export const podHostNetwork: Rule<Pod> = (object, _old, ctx) => (judged(object, ctx) && ctx.operation === 'CREATE' ? checkHostNetwork(podView(object)) : []);

/** Rule pod-max-groups (CREATE only). */
export const podMaxGroups: Rule<Pod> = (object, _old, ctx) => (judged(object, ctx) && ctx.operation === 'CREATE' ? checkMaxGroups(podView(object), ctx) : []);
