/**
 * A keyed work queue in the manner of client-go's workqueue: a key added several times before a
 * worker takes it is processed once; a key is never processed by two workers at once (an add
 * while it runs marks it dirty and it runs again after); a failed key comes back after a per-key
 * exponential backoff; a success forgets the backoff. Keys are plain strings (`ns/name`).
 */

/** What a worker reports: done, or retry after the key's backoff. */
export type WorkResult = 'done' | 'retry';

export interface WorkQueueOptions {
  /** Keys processed at once (default 4). */
  readonly workers?: number;
  /**
   * Per-key backoff after a failure: first delay and cap, ms. client-go's default controller
   * rate limiter starts at 5 ms and caps at 1000 s (workqueue.DefaultControllerRateLimiter);
   * ours starts at 200 ms and caps at 30 s: a revoked group must not wait 16 minutes for an API
   * server that is back.
   */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** Called when a worker throws (a bug: the key is retried like a failure). */
  readonly onError?: (key: string, err: unknown) => void;
}

/** The queue; `process` is the reconcile function for one key. */
export class WorkQueue {
  readonly #process: (key: string) => Promise<WorkResult>;
  readonly #workers: number;
  readonly #backoff: { readonly initial: number; readonly max: number };
  readonly #onError: ((key: string, err: unknown) => void) | undefined;
  /** Keys waiting to run, in order. */
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #running = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #idleWaiters: (() => void)[] = [];
  #active = 0;
  #stopped = false;

  constructor(process: (key: string) => Promise<WorkResult>, options: WorkQueueOptions = {}) {
    this.#process = process;
    this.#workers = options.workers ?? 4;
    this.#backoff = options.backoffMs ?? { initial: 200, max: 30_000 };
    this.#onError = options.onError;
  }

  /**
   * Queues `key` unless it is already waiting (a running key runs again once it finishes). A
   * retry scheduled for it is dropped: this run supersedes it.
   */
  add(key: string): void {
    if (this.#stopped) return;
    const scheduled = this.#timers.get(key);
    if (scheduled) {
      clearTimeout(scheduled);
      this.#timers.delete(key);
    }
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#running.has(key)) this.#queue.push(key);
    this.#pump();
  }

  /** Queues `key` after `ms`; a delayed add already pending for `key` is kept, not doubled. */
  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const pending = this.#timers.get(key);
    if (pending) return;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.#timers.set(key, timer);
  }

  /** Keys waiting or running. */
  get length(): number {
    return this.#dirty.size + this.#running.size;
  }

  /** Resolves when nothing is waiting, running or scheduled (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking keys; resolves when running workers finished. Pending keys are dropped. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    while (this.#active > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    this.#wakeIdle();
  }

  #isIdle(): boolean {
    return this.#active === 0 && this.#queue.length === 0 && this.#timers.size === 0;
  }

  #wakeIdle(): void {
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #pump(): void {
    while (!this.#stopped && this.#active < this.#workers && this.#queue.length > 0) {
      const key = this.#queue.shift()!;
      this.#dirty.delete(key);
      this.#running.add(key);
      this.#active++;
      void this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    let result: WorkResult;
    try {
      result = await this.#process(key);
    } catch (err) {
      this.#onError?.(key, err);
      result = 'retry';
    }
    this.#running.delete(key);
    this.#active--;
    if (result === 'done') {
      this.#failures.delete(key);
    } else if (!this.#stopped) {
      const n = this.#failures.get(key) ?? 0;
      this.#failures.set(key, n + 1);
      // Added again while it ran: that run (just below) is the retry.
      if (!this.#dirty.has(key)) this.addAfter(key, Math.min(this.#backoff.initial * 2 ** n, this.#backoff.max));
    }
    // Added again while it ran: run it again now (the new add may carry a newer state).
    if (this.#dirty.has(key) && !this.#stopped) this.#queue.push(key);
    this.#pump();
    if (this.#isIdle() || this.#stopped) this.#wakeIdle();
  }
}

/**
 * A token bucket: at most `burst` at once, refilled at `perSecond`. Writes wait for a token,
 * so a change touching thousands of Pods spreads its PATCHes instead of flooding the API server.
 */
export class TokenBucket {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;
  #tail: Promise<void> = Promise.resolve();

  constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  /** Resolves when a token is available (in call order). */
  take(): Promise<void> {
    const next = this.#tail.then(() => this.#wait());
    this.#tail = next;
    return next;
  }

  async #wait(): Promise<void> {
    for (;;) {
      const t = this.#now();
      this.#tokens = Math.min(this.#burst, this.#tokens + ((t - this.#last) / 1000) * this.#perSecond);
      this.#last = t;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.#tokens) / this.#perSecond) * 1000)));
    }
  }
}
