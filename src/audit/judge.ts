/**
 * Judging one object for `idgate check` and `idgate audit`: {@link evaluate} — the webhook's own
 * rule engine, unchanged — on the object as a CREATE, in its namespace. An existing object is
 * judged as if it were created now, which is what "would it be admitted today" means; a Pod
 * UPDATE only ever judges identity-key and sidecar changes (rules/identity.ts,
 * rules/sidecar.ts), which says nothing about an object at rest.
 */
import type { KubeObject, Pod } from '../admission/k8s.ts';
import { evaluate, judgesKind, type Decision } from '../baseline/evaluate.ts';
import type { Baseline } from '../config/baseline.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { asAdmitted } from './as-admitted.ts';
import { offlineScope } from '../baseline/rules/common.ts';
import type { ObjectRef, ObjectVerdict } from './report.ts';
import { staleFinding, staleIdentity } from './stale.ts';
import type { SourceLocation } from './objects.ts';

/** What {@link judgeObject} needs besides the object. */
export interface JudgeOptions {
  readonly baseline: Baseline;
  readonly identity: IdentityResolver;
  /** Namespace of objects without one: `-n`, else `default`, as kubectl would place them. */
  readonly defaultNamespace: string;
  /**
   * check: judge bare Pods as the validating webhook sees them, after the mutation (as-admitted.ts).
   * audit: report Pods whose identity labels are stale (stale.ts); live Pods were mutated already.
   */
  readonly mode: 'check' | 'audit';
  /** The idgate version (the mutation writes it to an annotation). */
  readonly version: string;
}

/** The reference of an object for reports. */
export function refOf(object: KubeObject, namespace: string | undefined, source?: SourceLocation): ObjectRef {
  const meta = object.metadata ?? {};
  const name = meta.name || (meta.generateName ? `${meta.generateName}*` : '<no name>');
  return {
    apiVersion: String(object.apiVersion ?? ''),
    kind: String(object.kind ?? ''),
    name,
    ...(namespace ? { namespace } : {}),
    ...(typeof meta.uid === 'string' && meta.uid ? { uid: meta.uid } : {}),
    ...(source ? { file: source.file, ...(source.line !== undefined ? { line: source.line } : {}) } : {}),
  };
}

/** The decision for an object judged in a scope that asks nothing of its kind. */
const NOTHING_TO_ANSWER: Decision = Object.freeze({ violations: [], unavailable: [], allowed: true, retryable: false });

/** Judges one object; kinds idgate does not judge come back without a decision. */
export function judgeObject(object: KubeObject, options: JudgeOptions, source?: SourceLocation): ObjectVerdict {
  const kind = String(object.kind ?? '');
  if (!judgesKind(kind)) return { ref: refOf(object, object.metadata?.namespace, source) };
  const namespace = object.metadata?.namespace || options.defaultNamespace;
  const ref = refOf(object, namespace, source);
  const { baseline, identity } = options;
  const scope = offlineScope(identity, namespace);
  let judged = object;
  if (kind === 'Pod' && options.mode === 'check' && !baseline.exemptNamespaces.includes(namespace)) {
    judged = asAdmitted(object as Pod, { baseline, identity, namespace, version: options.version });
  }
  // In a namespace that is not enrolled, a kind only the baseline judges (a NetworkPolicy, a
  // binding) has nothing to answer for: it counts as judged, with no finding.
  const decision = judgesKind(kind, scope)
    ? evaluate({ kind, operation: 'CREATE', namespace, object: judged, scope }, { baseline, identity })
    : NOTHING_TO_ANSWER;
  if (kind === 'Pod' && options.mode === 'audit' && decision.skipped === undefined) {
    const stale = staleIdentity(object as Pod, namespace, { baseline, identity });
    const finding = stale && staleFinding(ref, stale, baseline);
    if (finding) return { ref, decision, stale: finding };
  }
  return { ref, decision };
}
