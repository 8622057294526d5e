/**
 * What a rule family is and sees: a pure function of the object, the old object and a
 * {@link RuleContext}, returning every {@link Violation}. The loaded baseline itself is
 * config/baseline.ts.
 */
import type { IdentityResolver } from '../identity/types.ts';
import type { KubeObject } from '../admission/k8s.ts';
import type { Operation } from '../admission/types.ts';
import type { Baseline, RuleId } from '../config/baseline.ts';

/** One broken expectation, reported with everything a user needs to fix it. */
export interface Violation {
  readonly rule: RuleId;
  /**
   * Field path in the object as lib/field-path.ts renders a FieldPath, dotted with indices and
   * map keys in brackets: `spec.template.spec.containers[0].image`, `metadata.labels[app]`.
   */
  readonly path: string;
  readonly message: string;
  /** Never denies, whatever the mode (networkpolicy-unknown-group). */
  readonly warnOnly?: boolean;
}

/** Everything a rule may read besides the object itself. */
export interface RuleContext {
  readonly baseline: Baseline;
  readonly identity: IdentityResolver;
  readonly operation: Operation;
  /** The namespace of the request (Pods from controllers have no metadata.namespace yet). */
  readonly namespace: string;
  /** `request.subResource` (`status` for a kubelet's or anyone's `pods/status` write). */
  readonly subResource?: string;
  /** Who asks (`request.userInfo.username`); absent in `idgate check` and `idgate audit`. */
  readonly user?: string;
  /** idgate's own username (SelfSubjectReview at start-up): the only one that may relabel running Pods. */
  readonly selfUsername?: string;
}

/** A rule family: a pure function of (object, old object, context) → every violation. */
export type Rule<T extends KubeObject = KubeObject> = (object: T | undefined, oldObject: T | undefined, ctx: RuleContext) => Violation[];
