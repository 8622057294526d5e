/**
 * Helpers shared by the rule families: the extended violation they return, guards for
 * untrusted JSON. Messages quote user values with the injector's `quote` (mutate/upstream.ts).
 */
import type { LabelSelector } from '../../admission/k8s.ts';
import type { RuleId } from '../../config/baseline.ts';
import type { RuleContext, Violation } from '../types.ts';

/**
 * A {@link Violation} with what evaluate.ts needs beyond it. Rules return Findings; to every
 * other consumer they are plain Violations (the extra fields are optional).
 */
export interface Finding extends Violation {
  /** workload-template only: the pod rule the template breaks; its mode counts too (evaluate.ts). */
  readonly podRule?: RuleId;
  /**
   * The rule could not judge because the identity cache has not synced yet: a retryable
   * denial or a skip, depending on `identity.onUnavailable` (evaluate.ts).
   */
  readonly unavailable?: boolean;
}

/** Namespace label that opts a namespace into injection (the mutating webhook's namespaceSelector). */
export const NAMESPACE_INJECT_LABEL = 'idgate.dev/inject';

/**
 * Offline (`idgate check`, `idgate audit`), the scope a namespace's objects are judged in: a
 * namespace known (a Namespace object, or the cluster's) and not labelled
 * idgate.dev/inject=enabled gets identity integrity only; one known enrolled, or unknown to
 * check, gets every rule — otherwise idgate would not apply to its objects at all. The webhook
 * never asks: the path a review arrives on says it (docs/design.md#scope-by-path).
 */
export function offlineScope(identity: Pick<RuleContext['identity'], 'namespaceLabels'>, namespace: string): 'baseline' | 'integrity' {
  const labels = identity.namespaceLabels(namespace);
  return labels !== undefined && labels[NAMESPACE_INJECT_LABEL] !== 'enabled' ? 'integrity' : 'baseline';
}

/** Message of an identity-dependent check that cannot run yet. */
export const UNAVAILABLE_MESSAGE = 'the identity cache (OIDCGroupBindings) is still syncing; retry in a few seconds';

/** CREATE or UPDATE: the operations that write an object the rules can judge (DELETE and CONNECT carry none). */
export function writes(ctx: Pick<RuleContext, 'operation'>): boolean {
  return ctx.operation === 'CREATE' || ctx.operation === 'UPDATE';
}

/** Removes from `next` the findings already present in `previous` (same rule, path and message). */
export function newOnly(next: Finding[], previous: Finding[]): Finding[] {
  const seen = new Set(previous.map((f) => `${f.rule}\u0000${f.path}\u0000${f.message}`));
  return next.filter((f) => !seen.has(`${f.rule}\u0000${f.path}\u0000${f.message}`));
}

/**
 * A `*`-only glob as an anchored RegExp: every other character is literal (regex
 * metacharacters escaped), `*` matches any run of characters, including none.
 */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

/** Objects arrive as untrusted JSON: a list field may be anything. */
export function asArray<T>(value: T[] | undefined | unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** `{}` or no selector terms at all: selects everything in scope. */
export function isEmptySelector(s: LabelSelector | undefined): boolean {
  return s !== undefined && Object.keys(s.matchLabels ?? {}).length === 0 && asArray(s.matchExpressions).length === 0;
}
