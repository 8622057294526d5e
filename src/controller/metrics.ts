/**
 * What the controllers count. The webhook adapts its Prometheus registry to this
 * (src/webhook/start.ts), so the controllers import nothing from the webhook.
 */

/**
 * Per-Pod outcomes of relabelling: `patched`, `unchanged` (already right), `gone` (deleted
 * between list and patch), `conflict` (409, re-read and retried), `error` (429, 5xx or network:
 * retried), `failed` (given up for this batch; the ServiceAccount is queued again).
 */
export type RelabelOutcome = 'patched' | 'unchanged' | 'gone' | 'conflict' | 'error' | 'failed';

export interface ControllerMetrics {
  relabel(outcome: RelabelOutcome, count?: number): void;
  /** Seconds one batch (a ServiceAccount, or a sweep) took, from its start to its last patch. */
  relabelBatch(seconds: number): void;
  /** Whether this replica holds the Lease. */
  leader(leading: boolean): void;
}

/** Counts nothing. */
export const noMetrics: ControllerMetrics = { relabel: () => undefined, relabelBatch: () => undefined, leader: () => undefined };
