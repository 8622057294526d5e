/**
 * The contract of an identity source (file, Kubernetes informer): kept apart from types.ts
 * because it names the concrete {@link BindingIndex}, which itself implements types.ts's
 * IdentityResolver; in one file the two would import each other.
 */
import type { BindingIndex } from './index.ts';

/** What every identity source (file, Kubernetes) offers the server: an index to read, a life cycle, a status. */
export interface IdentitySource {
  /** The index the source fills; hand it to the rules and the mutation as their IdentityResolver. */
  readonly index: BindingIndex;
  /** Resolves once the index holds a complete first view (then `index.ready()` is true). */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): IdentitySourceStatus;
}

/** A small status for metrics and logs. Times are epoch milliseconds. */
export interface IdentitySourceStatus {
  readonly kind: 'file' | 'kubernetes';
  readonly synced: boolean;
  /** Last time the source saw a change or a sign of life (file read, watch event, bookmark). */
  readonly lastEventAt: number | undefined;
  /** Restarts after a failure (kube: informer restarts; file: rejected reloads). */
  readonly restarts: number;
  readonly bindings: number;
}
