/**
 * The /validate handler: decodes nothing (the admission layer did), judges the request with
 * {@link evaluate} and answers per docs/design.md#modes:
 * - enforce: `allowed: false`, status code 403, one message listing every denying violation as
 *   `[rule-id] field.path: message`, one per line (Gatekeeper's format; kubectl prints the
 *   message after `admission webhook "…" denied the request:` and keeps the line breaks);
 * - audit: allowed, one `warnings` entry per violation and `auditAnnotations.violations`;
 * - off: nothing.
 * Non-denying violations ride along as warnings on a denial too. `dryRun` requests are judged
 * the same way (the webhook has no side effects).
 */
import type { Logger } from 'pino';
import { allowed, denied, withAuditAnnotations, withWarnings } from '../admission/response.ts';
import type { AdmissionHandler, AdmissionResult } from '../admission/types.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { evaluate, judgesKind, type Decision, type JudgedViolation, type Scope } from './evaluate.ts';
import type { Baseline } from '../config/baseline.ts';
import { stripControls } from '../text.ts';

/** Dependencies of {@link createValidateHandler}. */
export interface ValidateHandlerOptions {
  /** The baseline in force, read per request (a store's `current`). */
  readonly baseline: () => Baseline;
  readonly identity: IdentityResolver;
  readonly logger: Logger;
  /** Called once per violation found, with the mode it was acted on in (metrics). */
  readonly onViolation?: (violation: JudgedViolation) => void;
  /** What this handler judges: `baseline` for `/validate`, `integrity` for `/validate/integrity` (default baseline). */
  readonly scope?: Scope;
  /** idgate's own username, once learned (SelfSubjectReview): the only user that may relabel running Pods. */
  readonly selfUsername?: () => string | undefined;
}

/**
 * kubectl prints each warning on its own line after `Warning: `; 120 characters keeps that on
 * one terminal line (docs/design.md#modes). The API server itself truncates warnings much later
 * (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/warning.go).
 */
export const MAX_WARNING_LENGTH = 120;

/** `[rule-id] field.path: message`. */
export function formatViolation(v: Pick<JudgedViolation, 'rule' | 'path' | 'message'>): string {
  return v.path === '' ? `[${v.rule}] ${v.message}` : `[${v.rule}] ${v.path}: ${v.message}`;
}

/**
 * A warning of at most {@link MAX_WARNING_LENGTH} characters where possible: the message is
 * shortened (with `...`), never the rule id or the path, which are what a user searches for.
 */
export function formatWarning(v: Pick<JudgedViolation, 'rule' | 'path' | 'message'>): string {
  const full = stripControls(formatViolation(v));
  if (full.length <= MAX_WARNING_LENGTH) return full;
  const head = stripControls(formatViolation({ ...v, message: '' }));
  const room = MAX_WARNING_LENGTH - head.length - 3;
  const message = stripControls(v.message);
  return `${head}${cut(message, Math.max(room, 20))}...`;
}

/** The first `max` characters, ending at a word boundary when one is near (within 20 characters). */
function cut(text: string, max: number): string {
  const slice = text.slice(0, max);
  const space = slice.lastIndexOf(' ');
  return (space >= max - 20 ? slice.slice(0, space) : slice).replace(/[\s,;:]+$/, '');
}

/** The AdmissionResult for a decision (exported for tests and `idgate check`-style callers). */
export function resultFor(decision: Decision): AdmissionResult {
  const denying = [...decision.violations, ...decision.unavailable].filter((v) => v.denies);
  const warnings = [
    ...decision.violations.filter((v) => !v.denies).map(formatWarning),
    ...decision.unavailable.filter((v) => !v.denies).map((v) => formatWarning({ ...v, message: `not checked: ${v.message}` })),
  ];
  const ruleIds = [...new Set(decision.violations.map((v) => v.rule))];
  let result: AdmissionResult;
  if (denying.length > 0) {
    result = denied(denying.map((v) => stripControls(formatViolation(v))).join('\n'));
    if (decision.retryable && result.status) {
      // 503: nothing is wrong with the object; the same request succeeds once the cache synced.
      result.status = { ...result.status, code: 503, reason: 'ServiceUnavailable' };
    }
  } else {
    result = allowed();
  }
  withWarnings(result, warnings);
  // The API server prefixes the key with the webhook's name: validate.idgate.dev/violations.
  if (ruleIds.length > 0) withAuditAnnotations(result, { violations: ruleIds.join(',') });
  result.log = {
    ...result.log,
    violations: ruleIds,
    ...(decision.skipped ? { reason: decision.skipped } : {}),
    ...(decision.unavailable.length > 0 ? { identityUnavailable: [...new Set(decision.unavailable.map((v) => v.rule))] } : {}),
  };
  return result;
}

/** Creates the validating webhook's handler. */
export function createValidateHandler(options: ValidateHandlerOptions): AdmissionHandler {
  const { identity, logger } = options;
  const scope = options.scope ?? 'baseline';
  return (request) => {
    const kind = request.kind?.kind ?? '';
    if (!judgesKind(kind, scope)) return { allowed: true, log: { violations: [], reason: `kind ${kind} not judged` } };
    if (request.subResource && !(kind === 'Pod' && request.subResource === 'status')) {
      // Scale and ephemeral-container updates cannot change what the rules read (and must not be
      // wedged by them). pods/status can: the API server lets it change labels
      // (docs/design.md#who-may-write-identity-labels).
      return { allowed: true, log: { violations: [], reason: `subresource ${request.subResource} not judged` } };
    }
    const selfUsername = options.selfUsername?.();
    const user = request.userInfo?.username;
    const decision = evaluate(
      {
        kind,
        operation: request.operation,
        namespace: request.namespace ?? '',
        object: request.object,
        oldObject: request.oldObject,
        scope,
        ...(request.name !== undefined ? { name: request.name } : {}),
        ...(request.subResource ? { subResource: request.subResource } : {}),
        ...(user !== undefined ? { user } : {}),
        ...(selfUsername !== undefined ? { selfUsername } : {}),
      },
      { baseline: options.baseline(), identity },
    );
    if (options.onViolation) for (const v of decision.violations) options.onViolation(v);
    if (decision.unavailable.length > 0) {
      logger.warn({ uid: request.uid, rules: decision.unavailable.map((v) => v.rule) }, 'identity cache not synced; identity rules could not run');
    }
    return resultFor(decision);
  };
}
