/** API errors of the fake API server, answered as `Status` bodies. */

/** An API error the server turns into a `Status` body (k8s.io/apimachinery metav1.Status). */
export class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;
  /** The Status's list metadata (a 410 for an expired continue token carries a fresh `continue`). */
  readonly listMeta: Record<string, unknown>;

  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>, listMeta: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.listMeta = listMeta;
  }

  /** The Status object, as the apiserver writes it (metav1.Status; `details` omitted when empty). */
  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: this.listMeta,
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}
