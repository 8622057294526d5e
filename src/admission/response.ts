/**
 * Response helpers (controller-runtime's response.go): every handler answers through these.
 */
import type { AdmissionResult, PatchOperation } from './types.ts';

/** Allows the request, optionally with a reason for the decision log. */
export function allowed(reason?: string): AdmissionResult {
  return reason === undefined ? { allowed: true } : { allowed: true, log: { reason } };
}

/** Denies with HTTP-style code 403 (Forbidden) and a message kubectl shows the user. */
export function denied(message: string, code = 403): AdmissionResult {
  return { allowed: false, status: { code, message, reason: 'Forbidden', status: 'Failure' } };
}

/** Allows with a JSONPatch; an empty patch is the same as allowed(). */
export function patched(patch: PatchOperation[]): AdmissionResult {
  return patch.length === 0 ? { allowed: true } : { allowed: true, patch };
}

/** An internal failure that is not the request's fault; the API server applies failurePolicy. */
export function errored(message: string, code = 500): AdmissionResult {
  return { allowed: false, status: { code, message, reason: 'InternalError', status: 'Failure' } };
}

/** Adds warnings (shown by kubectl) to a result, returning the same object. */
export function withWarnings(result: AdmissionResult, warnings: readonly string[]): AdmissionResult {
  if (warnings.length > 0) result.warnings = [...(result.warnings ?? []), ...warnings];
  return result;
}

/** Adds auditAnnotations (recorded in the API server's audit log) to a result. */
export function withAuditAnnotations(result: AdmissionResult, annotations: Record<string, string>): AdmissionResult {
  if (Object.keys(annotations).length > 0) result.auditAnnotations = { ...result.auditAnnotations, ...annotations };
  return result;
}
