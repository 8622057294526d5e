/**
 * The leader election loop around {@link decideLease}: try every retry period (with client-go's
 * 1.2 jitter factor, so replicas do not knock in step) until the Lease is ours, call
 * `onStartedLeading`, renew every retry period, and step down — `onStoppedLeading`, awaited
 * before anything else — as soon as renewing has failed for the renew deadline. Stepping down
 * happens before any other replica may take the Lease (renew deadline < lease duration), so two
 * replicas never act at once. `stop()` releases a held Lease so a successor starts at once.
 */
import type { Logger } from 'pino';
import { DEFAULT_TIMINGS, checkTimings, decideLease, observe, releasedRecord, type LeaderTimings, type Observation } from './leader.ts';
import { statusOf, type LeaseClient, type StoredLease } from './ports.ts';

export interface LeaderElectorOptions {
  readonly lease: LeaseClient;
  /** This replica's identity in `holderIdentity` (hostname_uuid, as controller-runtime). */
  readonly identity: string;
  readonly timings?: LeaderTimings;
  readonly logger: Logger;
  readonly onStartedLeading: () => void | Promise<void>;
  readonly onStoppedLeading: () => void | Promise<void>;
  readonly now?: () => number;
}

export interface LeaderElector {
  start(): void;
  /** Stops campaigning; a leader steps down (callbacks awaited) and releases the Lease. */
  stop(): Promise<void>;
  isLeader(): boolean;
}

/** Rejects when `promise` takes longer than `ms` (the request itself is left to finish). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), Math.max(1, ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const timings = options.timings ?? DEFAULT_TIMINGS;
  checkTimings(timings);
  const { lease, identity } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'leader-election', lease: lease.id, identity });
  let observed: Observation | undefined;
  let held: StoredLease | undefined;
  let leading = false;
  let stopped = false;
  let wake: () => void = () => undefined;
  let loop: Promise<void> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const jittered = () => timings.retryPeriodMs * (1 + Math.random() * 1.2);

  /** One attempt: `ours` after it, `theirs` (another replica holds it), or `raced` (409: someone wrote first). */
  async function tryAcquireOrRenew(): Promise<'ours' | 'theirs' | 'raced'> {
    const current = await lease.get();
    observed = observe(observed, current, now());
    const decision = decideLease({ current, observed, identity, now: new Date(now()), timings });
    if (decision.kind === 'wait') {
      logger.debug({ holder: decision.holder, expiresInMs: decision.expiresInMs }, 'lease held by another replica');
      return 'theirs';
    }
    try {
      held = decision.kind === 'create' ? await lease.create(decision.record) : await lease.update(decision.record, decision.resourceVersion);
      observed = { resourceVersion: held.resourceVersion, at: now() };
      return 'ours';
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      return 'raced';
    }
  }

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        if ((await within(tryAcquireOrRenew(), timings.renewDeadlineMs)) === 'ours') break;
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'cannot read or write the lease; will retry');
      }
      await sleep(jittered());
    }
    if (stopped) {
      // An attempt that won while stop() was called: hand the Lease straight back.
      await release();
      return;
    }
    leading = true;
    logger.info('became leader: starting controllers');
    await options.onStartedLeading();
    let lastRenew = now();
    while (!stopped) {
      await sleep(timings.retryPeriodMs);
      if (stopped) break;
      let result: 'ours' | 'theirs' | 'raced' | 'failed' = 'failed';
      try {
        result = await within(tryAcquireOrRenew(), timings.renewDeadlineMs - (now() - lastRenew));
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'renewing the lease failed; will retry until the renew deadline');
      }
      if (result === 'ours') lastRenew = now();
      // Someone else holds it, or renewing failed for the whole renew deadline: this term is over.
      else if (result === 'theirs' || now() - lastRenew >= timings.renewDeadlineMs) break;
    }
    logger.warn({ stopping: stopped }, 'leadership ended: stopping controllers');
    await options.onStoppedLeading();
    // Leading until the loops have stopped: isLeader() must never understate who may still write.
    leading = false;
    if (stopped) await release();
    else loop = run();
  }

  async function release(): Promise<void> {
    if (!held) return;
    try {
      const current = await within(lease.get(), timings.retryPeriodMs);
      if (current?.record.holderIdentity !== identity) return;
      await within(lease.update(releasedRecord(current.record, new Date(now())), current.resourceVersion), timings.retryPeriodMs);
      logger.info('released the lease');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not release the lease; another replica takes over once it expires');
    }
    held = undefined;
  }

  return {
    start() {
      if (!loop && !stopped) loop = run();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      wake();
      // `run` may have replaced itself after a lost term: wait for the current one.
      let current: Promise<void> | undefined;
      while (loop && loop !== current) {
        current = loop;
        await current;
      }
    },
    isLeader: () => leading,
  };
}
