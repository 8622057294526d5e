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
  return new Elector(options);
}

type Attempt = 'ours' | 'theirs' | 'raced';

class Elector implements LeaderElector {
  readonly #options: LeaderElectorOptions;
  readonly #timings: LeaderTimings;
  readonly #lease: LeaseClient;
  readonly #identity: string;
  readonly #now: () => number;
  readonly #logger: Logger;
  #observed: Observation | undefined;
  #held: StoredLease | undefined;
  #leading = false;
  #stopped = false;
  #wake: () => void = () => undefined;
  #loop: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#timings = options.timings ?? DEFAULT_TIMINGS;
    checkTimings(this.#timings);
    this.#lease = options.lease;
    this.#identity = options.identity;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger.child({ component: 'leader-election', lease: options.lease.id, identity: options.identity });
  }

  start(): void {
    if (!this.#loop && !this.#stopped) this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake();
    // `run` may have replaced itself after a lost term: wait for the current one.
    let current: Promise<void> | undefined;
    while (this.#loop && this.#loop !== current) {
      current = this.#loop;
      await current;
    }
  }

  isLeader(): boolean {
    return this.#leading;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #jittered(): number {
    return this.#timings.retryPeriodMs * (1 + Math.random() * 1.2);
  }

  /** One attempt: `ours` after it, `theirs` (another replica holds it), or `raced` (409: someone wrote first). */
  async #tryAcquireOrRenew(): Promise<Attempt> {
    const current = await this.#lease.get();
    this.#observed = observe(this.#observed, current, this.#now());
    const decision = decideLease({ current, observed: this.#observed, identity: this.#identity, now: new Date(this.#now()), timings: this.#timings });
    if (decision.kind === 'wait') {
      this.#logger.debug({ holder: decision.holder, expiresInMs: decision.expiresInMs }, 'lease held by another replica');
      return 'theirs';
    }
    try {
      this.#held = decision.kind === 'create' ? await this.#lease.create(decision.record) : await this.#lease.update(decision.record, decision.resourceVersion);
      this.#observed = { resourceVersion: this.#held.resourceVersion, at: this.#now() };
      return 'ours';
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      return 'raced';
    }
  }

  /** One term: campaign until the Lease is ours, lead until renewing fails, then campaign again. */
  async #run(): Promise<void> {
    await this.#campaign();
    if (this.#stopped) {
      // An attempt that won while stop() was called: hand the Lease straight back.
      await this.#release();
      return;
    }
    this.#leading = true;
    this.#logger.info('became leader: starting controllers');
    await this.#options.onStartedLeading();
    await this.#renewWhileLeading();
    this.#logger.warn({ stopping: this.#stopped }, 'leadership ended: stopping controllers');
    await this.#options.onStoppedLeading();
    // Leading until the loops have stopped: isLeader() must never understate who may still write.
    this.#leading = false;
    if (this.#stopped) await this.#release();
    else this.#loop = this.#run();
  }

  /** Tries every jittered retry period until the Lease is ours or the elector is stopped. */
  async #campaign(): Promise<void> {
    while (!this.#stopped) {
      try {
        if ((await within(this.#tryAcquireOrRenew(), this.#timings.renewDeadlineMs)) === 'ours') return;
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message }, 'cannot read or write the lease; will retry');
      }
      await this.#sleep(this.#jittered());
    }
  }

  /** Renews every retry period; returns when the term is over (or the elector is stopped). */
  async #renewWhileLeading(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.#timings;
    let lastRenew = this.#now();
    while (!this.#stopped) {
      await this.#sleep(retryPeriodMs);
      if (this.#stopped) break;
      let result: Attempt | 'failed' = 'failed';
      try {
        result = await within(this.#tryAcquireOrRenew(), renewDeadlineMs - (this.#now() - lastRenew));
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message }, 'renewing the lease failed; will retry until the renew deadline');
      }
      if (result === 'ours') lastRenew = this.#now();
      // Someone else holds it, or renewing failed for the whole renew deadline: this term is over.
      else if (result === 'theirs' || this.#now() - lastRenew >= renewDeadlineMs) break;
    }
  }

  async #release(): Promise<void> {
    if (!this.#held) return;
    const { retryPeriodMs } = this.#timings;
    try {
      const current = await within(this.#lease.get(), retryPeriodMs);
      if (current?.record.holderIdentity !== this.#identity) return;
      await within(this.#lease.update(releasedRecord(current.record, new Date(this.#now())), current.resourceVersion), retryPeriodMs);
      this.#logger.info('released the lease');
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'could not release the lease; another replica takes over once it expires');
    }
    this.#held = undefined;
  }
}
