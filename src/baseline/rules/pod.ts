/**
 * Pod rules (SPEC section 3): ServiceAccount, host network, sidecar, group count (identity
 * labels are identity.ts's). Each check works on a {@link PodView} with a path prefix, so workload.ts judges a pod
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
import { serviceAccountOf, type Container, type ObjectMeta, type Pod, type PodSpec } from '../../admission/k8s.ts';
import { isMirrorPod, optedOut } from '../../mutate/should-inject.ts';
import { buildSidecar, SIDECAR_NAME } from '../../mutate/sidecar.ts';
import { quote } from '../../mutate/upstream.ts';
import type { Rule, RuleContext, RuleId } from '../types.ts';
import {
  asArray, NAMESPACE_INJECT_LABEL, UNAVAILABLE_MESSAGE, newOnly, writes, type Finding,
} from './common.ts';
import { sidecarParams } from './sidecar-params.ts';

/** A Pod, or a pod template, with the prefix of its field paths (`''` or `spec.template.`). */
export interface PodView {
  readonly meta: ObjectMeta | undefined;
  readonly spec: PodSpec | undefined;
  readonly prefix: string;
}

const unavailable = (rule: RuleId, path: string): Finding => ({ rule, path, message: UNAVAILABLE_MESSAGE, unavailable: true });

/** Pods the pod rules judge at all: not deleted, not the kubelet's mirror pods. */
function judged(pod: Pod | undefined, ctx: RuleContext): pod is Pod {
  return pod !== undefined && writes(ctx) && !isMirrorPod(pod.metadata);
}

const podView = (pod: Pod): PodView => ({ meta: pod.metadata, spec: pod.spec, prefix: '' });

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

/** Every container or init container named idgate-proxy, with its path. */
export function findSidecars(v: PodView): Array<{ path: string; list: 'initContainers' | 'containers'; container: Container }> {
  const found: Array<{ path: string; list: 'initContainers' | 'containers'; container: Container }> = [];
  for (const list of ['initContainers', 'containers'] as const) {
    asArray<Container>(v.spec?.[list]).forEach((c, i) => {
      if (c?.name === SIDECAR_NAME) found.push({ path: `${v.prefix}spec.${list}[${i}]`, list, container: c });
    });
  }
  return found;
}

/** The ports as the API server stores them: protocol defaults to TCP (core/v1 defaulting). */
function normalizedPorts(ports: unknown): unknown[] {
  return asArray<Record<string, unknown>>(ports).map((p) => ({ ...p, protocol: p?.['protocol'] ?? 'TCP' }));
}

/** pod-sidecar: exactly one idgate-proxy, as the injector builds it, unless the Pod opted out. */
export function checkSidecar(v: PodView, ctx: RuleContext): Finding[] {
  const config = ctx.baseline.sidecar;
  const found = findSidecars(v);
  const findings: Finding[] = found.slice(1).map((f) => ({
    rule: 'pod-sidecar' as const, path: f.path,
    message: `duplicate ${SIDECAR_NAME} container; keep only the one the injector adds`,
  }));
  const params = sidecarParams(v.meta, v.spec, config, v.prefix);
  const first = found[0];
  if (first === undefined) {
    if (optedOut(v.meta) && config.allowOptOut) return findings;
    // The injector skips host-network Pods on purpose; pod-host-network judges them.
    if (v.spec?.hostNetwork === true) return findings;
    const list = config.mode === 'native' ? 'initContainers' : 'containers';
    const labels = ctx.identity.namespaceLabels(ctx.namespace);
    const why = !params.ok
      ? `it was not injected: ${params.reason}`
      : ctx.baseline.mutation === 'dry-run'
        ? 'the baseline has mutation: dry-run, so the injector only reported what it would add'
      : labels !== undefined && labels[NAMESPACE_INJECT_LABEL] !== 'enabled'
        ? `label namespace ${ctx.namespace} ${NAMESPACE_INJECT_LABEL}=enabled so the injector adds it`
        : 'the injector did not run for this Pod; check the mutating webhook';
    const optOut = optedOut(v.meta) ? '; the baseline does not allow opting out (sidecar.allowOptOut)' : '';
    return [...findings, { rule: 'pod-sidecar', path: params.ok ? `${v.prefix}spec.${list}` : params.path, message: `no ${SIDECAR_NAME} sidecar: ${why}${optOut}` }];
  }
  const { container, list, path } = first;
  if (config.mode === 'native' && list !== 'initContainers') {
    findings.push({ rule: 'pod-sidecar', path, message: `${SIDECAR_NAME} must be a native sidecar in spec.initContainers with restartPolicy: Always (baseline sidecar.mode native)` });
  } else if (config.mode === 'container' && list !== 'containers') {
    findings.push({ rule: 'pod-sidecar', path, message: `${SIDECAR_NAME} must be in spec.containers (baseline sidecar.mode container)` });
  } else if (config.mode === 'native' && container.restartPolicy !== 'Always') {
    findings.push({ rule: 'pod-sidecar', path: `${path}.restartPolicy`, message: `must be Always: a native sidecar keeps running beside the app` });
  }
  if (!params.ok) {
    findings.push({ rule: 'pod-sidecar', path: params.path, message: `${SIDECAR_NAME} is present but idgate would not inject it: ${params.reason}` });
    return findings;
  }
  const expected = buildSidecar(params.params);
  const fields: Array<[string, unknown, unknown]> = [
    ['image', container.image, expected.image],
    ['command', asArray(container.command), asArray(expected.command)],
    ['args', asArray(container.args), asArray(expected.args)],
    ['ports', normalizedPorts(container.ports), normalizedPorts(expected.ports)],
    ['securityContext', container.securityContext, expected.securityContext],
  ];
  for (const [field, actual, want] of fields) {
    if (isDeepStrictEqual(actual, want)) continue;
    if (Array.isArray(actual) && Array.isArray(want) && actual.length === want.length && field !== 'ports') {
      // Same length: name the first differing element, which is what the user has to fix.
      const i = actual.findIndex((a, k) => !isDeepStrictEqual(a, want[k]));
      findings.push({
        rule: 'pod-sidecar', path: `${path}.${field}`,
        message: `${SIDECAR_NAME} ${field} was altered: [${i}] is ${quote(actual[i], 50)}, idgate injects ${quote(want[i], 50)}; ` +
          'remove the container and let the injector add it',
      });
      continue;
    }
    findings.push({
      rule: 'pod-sidecar', path: `${path}.${field}`,
      message: `${SIDECAR_NAME} ${field} was altered (is ${quote(actual, 50)}, idgate injects ${quote(want, 50)}); ` +
        'remove the container and let the injector add it',
    });
  }
  return findings;
}

/** Rule pod-service-account (CREATE only, see the file comment). */
export const podServiceAccount: Rule<Pod> = (object, _old, ctx) =>
  judged(object, ctx) && ctx.operation === 'CREATE' ? checkServiceAccount(podView(object), ctx) : [];

/** Rule pod-host-network (CREATE only). */
export const podHostNetwork: Rule<Pod> = (object, _old, ctx) =>
  judged(object, ctx) && ctx.operation === 'CREATE' ? checkHostNetwork(podView(object)) : [];

/** Rule pod-max-groups (CREATE only). */
export const podMaxGroups: Rule<Pod> = (object, _old, ctx) =>
  judged(object, ctx) && ctx.operation === 'CREATE' ? checkMaxGroups(podView(object), ctx) : [];

/** Rule pod-sidecar; on UPDATE only what the update changed (a swapped sidecar image). */
export const podSidecar: Rule<Pod> = (object, oldObject, ctx) => {
  if (!judged(object, ctx)) return [];
  const now = checkSidecar(podView(object), ctx);
  if (ctx.operation !== 'UPDATE' || oldObject === undefined) return now;
  return newOnly(now, checkSidecar(podView(oldObject), ctx));
};
