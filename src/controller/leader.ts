/**
 * Leader election on a coordination.k8s.io/v1 Lease (docs/design.md#leader-election), the
 * decision half (pure), as client-go's leaderelection.tryAcquireOrRenew decides it:
 * - no Lease: create it, holding it;
 * - held by someone else whose record this replica has seen change within the holder's
 *   `leaseDurationSeconds` (measured on the local clock from when the change was observed, never
 *   from the record's renewTime, so clock skew between nodes cannot hand out two leases): wait;
 * - otherwise (free, expired, or our own): write ourselves as holder, with the resourceVersion
 *   read as precondition, so of two replicas racing for an expired Lease exactly one succeeds.
 */
import type { LeaseRecord, StoredLease } from './ports.ts';

/**
 * client-go's defaults (leaderelection.LeaderElectionConfig as kube-controller-manager and
 * controller-runtime use them): a leader that cannot renew for 10 s steps down, 5 s before any
 * other replica may take over 15 s after the last renewal it saw; attempts every 2 s.
 */
export interface LeaderTimings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: LeaderTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** Refuses timings under which two leaders could overlap (client-go NewLeaderElector's checks). */
export function checkTimings(t: LeaderTimings): void {
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) throw new Error('leader election: the lease duration must be greater than the renew deadline');
  if (!(t.renewDeadlineMs > 1.2 * t.retryPeriodMs)) throw new Error('leader election: the renew deadline must be greater than 1.2 × the retry period');
  if (t.retryPeriodMs < 1) throw new Error('leader election: the retry period must be positive');
}

/** When this replica last saw the Lease change: its resourceVersion and the local time. */
export interface Observation {
  readonly resourceVersion: string;
  readonly at: number;
}

export type LeaseDecision =
  | { readonly kind: 'create'; readonly record: LeaseRecord }
  | { readonly kind: 'update'; readonly record: LeaseRecord; readonly resourceVersion: string }
  | { readonly kind: 'wait'; readonly holder: string; readonly expiresInMs: number };

/** The Lease duration a record declares, in ms (1 s at least: a zero would expire at once). */
const durationMs = (r: LeaseRecord): number => Math.max(1, r.leaseDurationSeconds) * 1000;

/** Decides one attempt to acquire or renew. `observed` is refreshed by the caller from `current` first. */
export function decideLease(input: {
  readonly current: StoredLease | undefined;
  readonly observed: Observation | undefined;
  readonly identity: string;
  readonly now: Date;
  readonly timings: LeaderTimings;
}): LeaseDecision {
  const { current, identity, now, timings } = input;
  const leaseDurationSeconds = Math.ceil(timings.leaseDurationMs / 1000);
  if (!current) {
    return { kind: 'create', record: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } };
  }
  const old = current.record;
  const mine = old.holderIdentity === identity;
  if (old.holderIdentity !== '' && !mine) {
    const observedAt = input.observed?.resourceVersion === current.resourceVersion ? input.observed.at : now.getTime();
    const expiresInMs = observedAt + durationMs(old) - now.getTime();
    if (expiresInMs > 0) return { kind: 'wait', holder: old.holderIdentity, expiresInMs };
  }
  return {
    kind: 'update',
    resourceVersion: current.resourceVersion,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: mine ? (old.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: mine ? old.leaseTransitions : old.leaseTransitions + 1,
    },
  };
}

/**
 * The record a leader writes when it stops (client-go ReleaseOnCancel): no holder, a 1 s
 * duration, so the next candidate takes over at its next attempt instead of after the lease
 * duration.
 */
export function releasedRecord(current: LeaseRecord, now: Date): LeaseRecord {
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.leaseTransitions };
}

/** Records whose change starts the local expiry clock again (the resourceVersion changes with every write). */
export function observe(previous: Observation | undefined, current: StoredLease | undefined, now: number): Observation | undefined {
  if (!current) return undefined;
  return previous?.resourceVersion === current.resourceVersion ? previous : { resourceVersion: current.resourceVersion, at: now };
}
