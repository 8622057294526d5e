/**
 * workload-template: a controller's pod template judged as the Pods it will create, so
 * `kubectl apply` fails at once instead of the ReplicaSet (or Job) failing silently later.
 *
 * Differences from the Pod rules, by design:
 * - identity labels are absent from a template (the mutation adds them at Pod creation), so a
 *   template is only refused for identity labels or annotations it sets itself;
 * - the sidecar is injected at Pod creation, so "missing" does not apply; what does apply is a
 *   template from which the injector could build no sidecar (no resolvable upstream port, a
 *   malformed port annotation, a port clash), unless it opted out;
 * - a template that already contains an `idgate-proxy` container is refused: the injector
 *   recognises its sidecar by name and would not add its own, so the template would pin a
 *   hand-written copy that drifts from the baseline (image, issuers) at the next change.
 * Each violation carries the pod rule it breaks (`podRule`); evaluate.ts uses that rule's mode.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject, PodSpec, PodTemplateSpec } from '../../admission/k8s.ts';
import { identityKeysOf } from './identity.ts';
import { optedOut } from '../../mutate/should-inject.ts';
import { SIDECAR_NAME } from '../../mutate/sidecar.ts';
import type { RuleId } from '../../config/baseline.ts';
import type { Rule, RuleContext } from '../types.ts';
import { writes, type Finding } from './common.ts';
import { FieldPath } from '../../lib/field-path.ts';
import { isRecord } from '../../admission/k8s.ts';
import { checkHostNetwork, checkMaxGroups, checkServiceAccount, type PodView } from './pod.ts';
import { findSidecars } from './sidecar.ts';
import { sidecarParams } from './sidecar-params.ts';

/** Kinds with a pod template, and where it sits (apps/v1, batch/v1). */
export const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

function templateOf(object: KubeObject, path: readonly string[]): PodTemplateSpec | undefined {
  let node: unknown = object;
  for (const key of path) node = isRecord(node) ? node[key] : undefined;
  return isRecord(node) ? (node as PodTemplateSpec) : undefined;
}

function identityKeys(v: PodView): Finding[] {
  return identityKeysOf(v.meta).map(([field, key]) => ({
    rule: 'pod-identity-labels',
    path: v.prefix.child('metadata', field).key(key).toString(),
    message: `identity ${field === 'labels' ? 'label' : 'annotation'} set in the template; only idgate sets them, at Pod creation: remove it`,
  }));
}

function sidecarInTemplate(v: PodView, ctx: RuleContext): Finding[] {
  const findings: Finding[] = findSidecars(v).map((f) => ({
    rule: 'pod-sidecar' as const,
    path: f.path.toString(),
    message: `the template declares its own ${SIDECAR_NAME}; remove it: idgate injects the sidecar at Pod creation`,
  }));
  if (optedOut(v.meta) && ctx.baseline.sidecar.allowOptOut) return findings;
  if (v.spec?.hostNetwork === true || findings.length > 0) return findings;
  const params = sidecarParams(v.meta, v.spec, ctx.baseline.sidecar, v.prefix);
  if (!params.ok) findings.push({ rule: 'pod-sidecar', path: params.path, message: `idgate cannot inject its sidecar into these Pods: ${params.reason}` });
  return findings;
}

/** The pod checks a template is subject to, as findings of the pod rules. */
export function judgeTemplate(v: PodView, ctx: RuleContext): Finding[] {
  return [...identityKeys(v), ...checkServiceAccount(v, ctx), ...checkHostNetwork(v), ...sidecarInTemplate(v, ctx), ...checkMaxGroups(v, ctx)];
}

/**
 * The template to judge, or undefined when there is none to judge. An UPDATE is judged only
 * when it changes the template (docs/design.md#what-is-never-refused): the deployment controller scales old
 * ReplicaSets to zero, the garbage collector removes finalizers and owner references, the TTL
 * and CronJob controllers clean up Jobs — UPDATEs of objects whose unchanged template may have
 * fallen out of policy since (a revoked binding), none of which may be refused.
 */
function changedTemplate(object: KubeObject | undefined, oldObject: KubeObject | undefined, ctx: RuleContext): PodView | undefined {
  if (object === undefined || !writes(ctx)) return undefined;
  const path = TEMPLATE_PATHS[object.kind ?? ''];
  if (path === undefined) return undefined;
  const template = templateOf(object, path);
  if (ctx.operation === 'UPDATE' && oldObject !== undefined && isDeepStrictEqual(template, templateOf(oldObject, path))) return undefined;
  return { meta: template?.metadata, spec: template?.spec as PodSpec | undefined, prefix: FieldPath.root(...path) };
}

/** Findings of pod rules re-labelled `workload-template`, naming the pod rule each breaks. */
const asTemplateFindings = (findings: Finding[]): Finding[] =>
  findings.map(
    (f): Finding => ({
      ...f,
      rule: 'workload-template',
      podRule: f.rule as RuleId,
      message: f.unavailable ? f.message : `breaks ${f.rule}: ${f.message}`,
    }),
  );

/** Rule workload-template, in an enrolled namespace: the template judged as its Pods will be. */
export const workloadTemplate: Rule = (object, oldObject, ctx) => {
  const view = changedTemplate(object, oldObject, ctx);
  return view === undefined ? [] : asTemplateFindings(judgeTemplate(view, ctx));
};

/** Rule workload-template, in a namespace that is not enrolled: identity keys only. */
export const workloadIdentityIntegrity: Rule = (object, oldObject, ctx) => {
  const view = changedTemplate(object, oldObject, ctx);
  return view === undefined ? [] : asTemplateFindings(identityKeys(view));
};
