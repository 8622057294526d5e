/**
 * pod-sidecar (docs/design.md#rules): exactly one idgate-proxy, in the place the baseline's mode puts
 * it, and as the injector builds it for this Pod's annotations (sidecar-compare.ts). Works on a
 * {@link PodView}, so workload.ts finds sidecars in pod templates with the same code. The
 * sidecar is found by name wherever other webhooks have moved it, and the app container by the
 * `idgate.dev/upstream-container` annotation the injector recorded (mutate/upstream.ts).
 */
import type { Container, Pod } from '../../admission/k8s.ts';
import { optedOut } from '../../mutate/should-inject.ts';
import { buildSidecar, SIDECAR_NAME } from '../../mutate/sidecar.ts';
import type { FieldPath } from '../../lib/field-path.ts';
import type { Rule, RuleContext } from '../types.ts';
import { asArray, NAMESPACE_INJECT_LABEL, newOnly, type Finding } from './common.ts';
import { judged, podView, type PodView } from './pod.ts';
import { compareSidecar } from './sidecar-compare.ts';
import { type ParamsResult, sidecarParams } from './sidecar-params.ts';
import type { SidecarConfig } from '../../config/baseline.ts';

/** Every container or init container named idgate-proxy, with its path. */
export function findSidecars(v: PodView): Array<{ path: FieldPath; list: 'initContainers' | 'containers'; container: Container }> {
  const found: Array<{ path: FieldPath; list: 'initContainers' | 'containers'; container: Container }> = [];
  for (const list of ['initContainers', 'containers'] as const) {
    asArray<Container>(v.spec?.[list]).forEach((c, i) => {
      if (c?.name === SIDECAR_NAME) found.push({ path: v.prefix.child('spec', list).index(i), list, container: c });
    });
  }
  return found;
}

type Found = ReturnType<typeof findSidecars>[number];

/** Why the injector did not add the sidecar, from the most specific cause to the least. */
function whyNotInjected(params: ParamsResult, ctx: RuleContext): string {
  if (!params.ok) return `it was not injected: ${params.reason}`;
  if (ctx.baseline.mutation === 'dry-run') return 'the baseline has mutation: dry-run, so the injector only reported what it would add';
  const labels = ctx.identity.namespaceLabels(ctx.namespace);
  if (labels !== undefined && labels[NAMESPACE_INJECT_LABEL] !== 'enabled') {
    return `label namespace ${ctx.namespace} ${NAMESPACE_INJECT_LABEL}=enabled so the injector adds it`;
  }
  return 'the injector did not run for this Pod; check the mutating webhook';
}

/** The finding for a Pod without the sidecar, or none when it may go without. */
function missingSidecar(v: PodView, ctx: RuleContext, params: ParamsResult): Finding | undefined {
  const config = ctx.baseline.sidecar;
  if (optedOut(v.meta) && config.allowOptOut) return undefined;
  // The injector skips host-network Pods on purpose; pod-host-network judges them.
  if (v.spec?.hostNetwork === true) return undefined;
  const list = config.mode === 'native' ? 'initContainers' : 'containers';
  const optOut = optedOut(v.meta) ? '; the baseline does not allow opting out (sidecar.allowOptOut)' : '';
  // With mutation: dry-run the injector adds nothing on purpose: a sidecar it would have added
  // is reported, never denied (docs/design.md#mutation). One it could not add is refused as with apply.
  const warnOnly = params.ok && ctx.baseline.mutation === 'dry-run';
  return {
    rule: 'pod-sidecar',
    path: params.ok ? v.prefix.child('spec', list).toString() : params.path,
    message: `no ${SIDECAR_NAME} sidecar: ${whyNotInjected(params, ctx)}${optOut}`,
    ...(warnOnly ? { warnOnly: true } : {}),
  };
}

/** The finding for a sidecar in the wrong list for the baseline's mode, or a native one that does not restart. */
function misplaced({ container, list, path }: Found, mode: SidecarConfig['mode']): Finding | undefined {
  if (mode === 'native' && list !== 'initContainers') {
    return {
      rule: 'pod-sidecar',
      path: path.toString(),
      message: `${SIDECAR_NAME} must be a native sidecar in spec.initContainers with restartPolicy: Always (baseline sidecar.mode native)`,
    };
  }
  if (mode === 'container' && list !== 'containers') {
    return { rule: 'pod-sidecar', path: path.toString(), message: `${SIDECAR_NAME} must be in spec.containers (baseline sidecar.mode container)` };
  }
  if (mode === 'native' && container.restartPolicy !== 'Always') {
    return { rule: 'pod-sidecar', path: path.child('restartPolicy').toString(), message: `must be Always: a native sidecar keeps running beside the app` };
  }
  return undefined;
}

/** pod-sidecar: exactly one idgate-proxy, as the injector builds it, unless the Pod opted out. */
export function checkSidecar(v: PodView, ctx: RuleContext): Finding[] {
  const config = ctx.baseline.sidecar;
  const [first, ...duplicates] = findSidecars(v);
  const findings: Finding[] = duplicates.map((f) => ({
    rule: 'pod-sidecar' as const,
    path: f.path.toString(),
    message: `duplicate ${SIDECAR_NAME} container; keep only the one the injector adds`,
  }));
  const params = sidecarParams(v.meta, v.spec, config, v.prefix);
  if (first === undefined) {
    const missing = missingSidecar(v, ctx, params);
    return missing ? [...findings, missing] : findings;
  }
  const wrongPlace = misplaced(first, config.mode);
  if (wrongPlace) findings.push(wrongPlace);
  if (!params.ok) {
    findings.push({ rule: 'pod-sidecar', path: params.path, message: `${SIDECAR_NAME} is present but idgate would not inject it: ${params.reason}` });
    return findings;
  }
  return [...findings, ...compareSidecar(first.container, buildSidecar(params.params), v.spec, first.path, config)];
}

/** Rule pod-sidecar; on UPDATE only what the update changed (a swapped sidecar image). */
export const podSidecar: Rule<Pod> = (object, oldObject, ctx) => {
  if (!judged(object, ctx)) return [];
  const now = checkSidecar(podView(object), ctx);
  if (ctx.operation !== 'UPDATE' || oldObject === undefined) return now;
  return newOnly(now, checkSidecar(podView(oldObject), ctx));
};
