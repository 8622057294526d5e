/**
 * Pod rules (SPEC section 3): identity labels, ServiceAccount, host network, group count (the
 * sidecar rule is in sidecar.ts). Each check works on a {@link PodView} with a path prefix, so workload.ts judges a pod
 * template with the same code and paths that point into the template.
 *
 * Pod UPDATE: a Pod's spec is immutable except images and a few scheduling fields
 * (apimachinery ValidatePodUpdate), so a violation in it can only stem from an admission in
 * audit/off mode or from a since-changed binding. Re-judging it on every metadata update
 * (controllers add finalizers, owner references, labels) would wedge those controllers; so on
 * UPDATE only identity label changes (spoofing) and sidecar changes (its image is mutable) are
 * judged. `idgate audit` reports the rest.
 */
import { isDeepStrictEqual } from 'node:util';
import { serviceAccountOf, type ObjectMeta, type Pod, type PodSpec } from '../../admission/k8s.ts';
import {
  ANNOTATION_INJECTED, isIdentityAnnotation, isIdentityLabel,
} from '../../identity/labels.ts';
import { computeIdentity } from '../../mutate/identity.ts';
import { isMirrorPod } from '../../mutate/should-inject.ts';
import { quote } from '../../mutate/upstream.ts';
import type { Rule, RuleContext, RuleId } from '../types.ts';
import {
  keyPath, NAMESPACE_INJECT_LABEL, UNAVAILABLE_MESSAGE, writes, type Finding,
} from './common.ts';

/** A Pod, or a pod template, with the prefix of its field paths (`''` or `spec.template.`). */
export interface PodView {
  readonly meta: ObjectMeta | undefined;
  readonly spec: PodSpec | undefined;
  readonly prefix: string;
}

const unavailable = (rule: RuleId, path: string): Finding => ({ rule, path, message: UNAVAILABLE_MESSAGE, unavailable: true });

/** Pods the pod rules judge at all: not deleted, not the kubelet's mirror pods. */
export function judged(pod: Pod | undefined, ctx: RuleContext): pod is Pod {
  return pod !== undefined && writes(ctx) && !isMirrorPod(pod.metadata);
}

export const podView = (pod: Pod): PodView => ({ meta: pod.metadata, spec: pod.spec, prefix: '' });

function saPath(v: PodView): string {
  return `${v.prefix}spec.${v.spec?.serviceAccountName ? 'serviceAccountName' : v.spec?.serviceAccount ? 'serviceAccount' : 'serviceAccountName'}`;
}

/** pod-service-account: not `default`, and bound to at least one group by a trusted binding. */
export function checkServiceAccount(v: PodView, ctx: RuleContext): Finding[] {
  const sa = serviceAccountOf(v.spec);
  const path = saPath(v);
  if (sa === 'default') {
    return [{
      rule: 'pod-service-account', path,
      message: `uses the "default" ServiceAccount, which every workload of namespace ${ctx.namespace} shares; ` +
        'create a dedicated ServiceAccount, bind it with an OIDCGroupBinding and set spec.serviceAccountName',
    }];
  }
  if (!ctx.identity.ready()) return [unavailable('pod-service-account', path)];
  const { groups } = ctx.identity.resolve(ctx.namespace, sa, ctx.baseline.trustedIssuerSet);
  if (groups.length > 0) return [];
  return [{
    rule: 'pod-service-account', path,
    message: `ServiceAccount ${quote(sa)} has no OIDCGroupBinding with a trusted issuer in namespace ${ctx.namespace}, ` +
      'so it has no identity; add one that lists it in spec.serviceAccounts',
  }];
}

/** pod-max-groups: the ServiceAccount's groups stay within identity.maxGroupsPerServiceAccount. */
export function checkMaxGroups(v: PodView, ctx: RuleContext): Finding[] {
  const sa = serviceAccountOf(v.spec);
  if (sa === 'default') return [];
  if (!ctx.identity.ready()) return [unavailable('pod-max-groups', saPath(v))];
  const { groups } = ctx.identity.resolve(ctx.namespace, sa, ctx.baseline.trustedIssuerSet);
  const max = ctx.baseline.identity.maxGroupsPerServiceAccount;
  if (groups.length <= max) return [];
  return [{
    rule: 'pod-max-groups', path: saPath(v),
    message: `ServiceAccount ${quote(sa)} has ${groups.length} groups, more than the baseline's ${max} ` +
      '(keep claims small): split the workload across ServiceAccounts or trim its OIDCGroupBindings',
  }];
}

/** pod-host-network: NetworkPolicy does not apply to host-network Pods. */
export function checkHostNetwork(v: PodView): Finding[] {
  if (v.spec?.hostNetwork !== true) return [];
  return [{
    rule: 'pod-host-network', path: `${v.prefix}spec.hostNetwork`,
    message: 'hostNetwork: true puts the Pod on the node network, where no NetworkPolicy applies and no sidecar is injected; remove it',
  }];
}

/** Parses a list annotation: a JSON array of strings, or a comma list. */
function listAnnotation(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? [...parsed].sort() : ['<invalid>'];
    } catch {
      return ['<invalid>'];
    }
  }
  return trimmed.split(',').map((s) => s.trim()).filter((s) => s !== '').sort();
}

/**
 * pod-identity-labels on CREATE. The validating webhook runs after the mutating one, so a Pod
 * that went through the mutation carries exactly the computed identity. Accepted:
 * - exactly the computed set (src/mutate/identity.ts): labels `idgate.dev/service-account`
 *   (the ServiceAccount name, hash-shortened past 63 characters) and one `group.idgate.dev/…`
 *   per group; annotations `idgate.dev/groups` and `idgate.dev/bindings` naming the same sets
 *   (JSON list or comma list; absent is fine when the set is empty); `idgate.dev/injected`
 *   with any value (it carries the idgate version), or absent;
 * - no identity label or annotation at all, when the namespace is not labelled
 *   idgate.dev/inject=enabled (or unknown, as in `idgate check`): the mutation never ran, and a
 *   Pod without identity labels is selected by no identity-based NetworkPolicy peer, so
 *   omission grants nothing. In an injection-enabled namespace (with `mutation: apply`)
 *   absence means the mutation was bypassed (failurePolicy Ignore), and is refused.
 * Anything else — a subset, an extra group, another value — is spoofing or staleness.
 */
function identityOnCreate(pod: Pod, ctx: RuleContext): Finding[] {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const presentLabels = Object.keys(labels).filter(isIdentityLabel);
  const presentAnnotations = Object.keys(annotations).filter(isIdentityAnnotation);
  // With `mutation: dry-run` the injector writes nothing, so absence is expected there too.
  const injectEnabled = ctx.baseline.mutation === 'apply' &&
    ctx.identity.namespaceLabels(ctx.namespace)?.[NAMESPACE_INJECT_LABEL] === 'enabled';
  if (presentLabels.length === 0 && presentAnnotations.length === 0 && !injectEnabled) return [];
  if (!ctx.identity.ready()) return [unavailable('pod-identity-labels', 'metadata.labels')];
  const sa = serviceAccountOf(pod.spec);
  const identity = ctx.identity.resolve(ctx.namespace, sa, ctx.baseline.trustedIssuerSet);
  if (presentLabels.length === 0 && presentAnnotations.length === 0) {
    return [{
      rule: 'pod-identity-labels', path: 'metadata.labels',
      message: `no identity labels, though namespace ${ctx.namespace} has ${NAMESPACE_INJECT_LABEL}=enabled: ` +
        'the mutating webhook did not run for this Pod; check its failurePolicy and retry',
    }];
  }
  // The mutation's own function: injector and validator cannot disagree on the expected set.
  // `idgate.dev/injected` carries a version, any value of which is fine: it is not computed here.
  const { labels: expected, annotations: expectedAnnotations } = computeIdentity(sa, identity, undefined);
  const findings: Finding[] = [];
  const fix = 'only idgate sets identity labels; remove it and let the injector compute them';
  for (const key of presentLabels) {
    const path = keyPath('metadata.labels', key);
    if (!(key in expected)) findings.push({ rule: 'pod-identity-labels', path, message: `not granted by any binding of ServiceAccount ${quote(sa)}; ${fix}` });
    else if (labels[key] !== expected[key]) findings.push({ rule: 'pod-identity-labels', path, message: `is ${quote(labels[key])}, the bindings give ${quote(expected[key])}; ${fix}` });
  }
  for (const key of Object.keys(expected)) {
    if (!(key in labels)) findings.push({ rule: 'pod-identity-labels', path: keyPath('metadata.labels', key), message: `missing: the bindings of ServiceAccount ${quote(sa)} give it; ${fix}` });
  }
  for (const key of presentAnnotations) {
    if (key === ANNOTATION_INJECTED || key in expectedAnnotations) continue;
    findings.push({ rule: 'pod-identity-labels', path: keyPath('metadata.annotations', key), message: `not an annotation idgate sets; ${fix}` });
  }
  for (const [key, value] of Object.entries(expectedAnnotations)) {
    // Compared as sets: a JSON or comma list in any order names the same groups or bindings.
    const want = listAnnotation(value) ?? [];
    if (!isDeepStrictEqual(listAnnotation(annotations[key]) ?? [], want)) {
      findings.push({ rule: 'pod-identity-labels', path: keyPath('metadata.annotations', key), message: `is ${quote(annotations[key] ?? '(absent)')}, the bindings give ${quote(want.join(','))}; ${fix}` });
    }
  }
  return findings;
}

/** pod-identity-labels on UPDATE: no identity label or annotation may be added, changed or removed. */
function identityOnUpdate(pod: Pod, old: Pod | undefined): Finding[] {
  const findings: Finding[] = [];
  for (const [field, isIdentity] of [['labels', isIdentityLabel], ['annotations', isIdentityAnnotation]] as const) {
    const now = pod.metadata?.[field] ?? {};
    const before = old?.metadata?.[field] ?? {};
    const keys = new Set([...Object.keys(now), ...Object.keys(before)].filter(isIdentity));
    for (const key of [...keys].sort()) {
      if (now[key] === before[key]) continue;
      const change = !(key in before) ? 'added' : !(key in now) ? 'removed' : 'changed';
      findings.push({
        rule: 'pod-identity-labels', path: keyPath(`metadata.${field}`, key),
        message: `identity ${field === 'labels' ? 'label' : 'annotation'} ${change} on a running Pod; only idgate sets them, at creation`,
      });
    }
  }
  return findings;
}

/** Rule pod-identity-labels. */
export const podIdentityLabels: Rule<Pod> = (object, oldObject, ctx) => {
  if (!judged(object, ctx)) return [];
  return ctx.operation === 'UPDATE' ? identityOnUpdate(object, oldObject) : identityOnCreate(object, ctx);
};

/** Rule pod-service-account (CREATE only, see the file comment). */
export const podServiceAccount: Rule<Pod> = (object, _old, ctx) =>
  judged(object, ctx) && ctx.operation === 'CREATE' ? checkServiceAccount(podView(object), ctx) : [];

/** Rule pod-host-network (CREATE only). */
export const podHostNetwork: Rule<Pod> = (object, _old, ctx) =>
  judged(object, ctx) && ctx.operation === 'CREATE' ? checkHostNetwork(podView(object)) : [];

/** Rule pod-max-groups (CREATE only). */
export const podMaxGroups: Rule<Pod> = (object, _old, ctx) =>
  judged(object, ctx) && ctx.operation === 'CREATE' ? checkMaxGroups(podView(object), ctx) : [];
