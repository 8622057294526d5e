/**
 * A self-healing informer: list, then watch from the list's resourceVersion, as client-go's
 * reflector does (docs/design.md#oidcgroupbinding), with no object cache of its own.
 *
 * client-node's ListWatch keeps every object whole in its cache and joins every page of a list
 * before handing it over: with 100,000 OIDCGroupBindings that alone exceeded the Deployment's
 * 128 MiB old space (BENCHMARKS.md, "scale"). Here each list page goes to the handlers as it
 * arrives, and they keep only their compact projection. The loop:
 *  - lists page by page (limit 500, `continue`) into a sink that is committed only once the last
 *    page is in: readers keep the old view until then, and a list that fails half way is dropped;
 *    a page not answered within `listPageTimeoutMs` is aborted and fails the list (backoff, relist);
 *  - watches (client-node's Watch, with BOOKMARKs) from the list's resourceVersion, tracking the
 *    resourceVersion of every event and BOOKMARK; a clean close or client-side timeout re-watches
 *    from it, a 410 Gone relists, any other error re-watches from it after an exponential backoff;
 *  - runs a watchdog: no list page, event, BOOKMARK or accepted watch for `watchdogMs` → a new
 *    loop and a relist (a stalled watch: client-node issues #596, #1933); the old loop's watch and
 *    list page in flight are aborted, so no request of a superseded loop stays open;
 *  - relists every `resyncMs` as a safety net.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeError, ObservedWatch, streamList, watchOnce, type ListPageFn, type ListSink, type WatchEnd, type WatchTarget } from './list-watch.ts';

export { describeError, type ListPageFn, type ListSink } from './list-watch.ts';

/** Where the informer's view goes: every full list through a {@link ListSink}, then the watch's changes. */
export interface InformerHandlers<T> extends WatchTarget<T> {
  /** A sink for one full list (first sync and relists); dropped without `commit()` if the list fails. */
  list(): ListSink<T>;
}

/** Times are epoch milliseconds. */
export interface InformerStatus {
  readonly resource: string;
  readonly synced: boolean;
  /** Last list page, watch event, bookmark or accepted watch connection. */
  readonly lastEventAt: number | undefined;
  readonly lastListAt: number | undefined;
  /** Full lists done (first sync, relists after 410, watchdog restarts, resyncs). */
  readonly lists: number;
  /** Watchdog restarts: the informer went quiet for watchdogMs and was replaced. */
  readonly restarts: number;
  /** Resumes after a watch or list error. */
  readonly reconnects: number;
  readonly resyncs: number;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** Resource name for logs and status, e.g. `oidcgroupbindings`. */
  readonly resource: string;
  readonly kubeConfig: KubeConfig;
  /** The collection URL path to watch, e.g. `/api/v1/namespaces`. */
  readonly path: string;
  readonly listPage: ListPageFn<T>;
  readonly handlers: InformerHandlers<T>;
  readonly logger: Logger;
  /** Default 5 minutes: well above the apiserver's one-minute bookmark interval (cacher bookmarkFrequency). */
  readonly watchdogMs?: number;
  /** Default 10 minutes; 0 disables. */
  readonly resyncMs?: number;
  /** Backoff after errors: first delay and cap, ms. Defaults 1000 and 30000, as client-node's own reconnects. */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** List page size. Default 500, client-go's reflector page size. */
  readonly pageSize?: number;
  /** How long one list page may take before it is aborted and the list retried, ms. Default LIST_PAGE_TIMEOUT_MS (60 s, list-watch.ts). */
  readonly listPageTimeoutMs?: number;
  readonly now?: () => number;
}

export interface ResilientInformer {
  /** Starts listing and watching; resolves after the first successful full list. Rejects if stopped first. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): InformerStatus;
}

/** Creates a {@link ResilientInformer}; nothing happens until `start()`. */
export function createResilientInformer<T extends KubernetesObject>(options: ResilientInformerOptions<T>): ResilientInformer {
  return new Informer(options);
}

/** The counters and times {@link ResilientInformer.status} reports besides `resource` and `synced`. */
type Counters = { -readonly [K in Exclude<keyof InformerStatus, 'resource' | 'synced'>]: InformerStatus[K] };

class Informer<T extends KubernetesObject> implements ResilientInformer {
  readonly #options: ResilientInformerOptions<T>;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #watchdogMs: number;
  readonly #resyncMs: number;
  readonly #backoff: { readonly initial: number; readonly max: number };
  readonly #counters: Counters = { lastEventAt: undefined, lastListAt: undefined, lists: 0, restarts: 0, reconnects: 0, resyncs: 0 };
  readonly #firstSync = Promise.withResolvers<void>();
  /** Bumped by every launch and by stop: an older loop and its callbacks see it changed and do nothing. */
  #generation = 0;
  /** Ends the current loop's open watch, if any. */
  #abortWatch: (() => void) | undefined;
  /** Aborts the current loop's list page in flight, if any. */
  #loopAbort: AbortController | undefined;
  /** The generation whose loop is listing, if one is. */
  #listing: number | undefined;
  #stopped = false;
  #started = false;
  #synced = false;
  #lastActivity: number;
  #nextDelay: number;
  #delay: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  #watchdogTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;

  constructor(options: ResilientInformerOptions<T>) {
    this.#options = options;
    this.#logger = options.logger.child({ resource: options.resource });
    this.#now = options.now ?? Date.now;
    this.#watchdogMs = options.watchdogMs ?? 5 * 60_000;
    this.#resyncMs = options.resyncMs ?? 10 * 60_000;
    this.#backoff = options.backoffMs ?? { initial: 1000, max: 30_000 };
    this.#lastActivity = this.#now();
    this.#nextDelay = this.#backoff.initial;
    // A caller that never awaits start() must not see an unhandled rejection when it stops early.
    this.#firstSync.promise.catch(() => undefined);
  }

  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error(`informer ${this.#options.resource} is stopped`));
    if (!this.#started) {
      this.#started = true;
      this.#launch();
      // Check often enough to notice a stall soon after watchdogMs, not so often it costs anything.
      this.#watchdogTimer = setInterval(
        () => {
          if (this.#now() - this.#lastActivity > this.#watchdogMs) this.#restart('watchdog');
        },
        Math.max(25, Math.min(this.#watchdogMs / 4, 10_000)),
      );
      if (this.#resyncMs > 0) this.#resyncTimer = setInterval(() => this.#restart('resync'), this.#resyncMs);
    }
    return this.#firstSync.promise;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#endLoop();
    clearInterval(this.#watchdogTimer);
    clearInterval(this.#resyncTimer);
    if (!this.#synced) this.#firstSync.reject(new Error(`informer ${this.#options.resource} stopped before its first sync`));
  }

  status(): InformerStatus {
    return { resource: this.#options.resource, synced: this.#synced, ...this.#counters };
  }

  /** A sign of life; `healthy` (a full list, an accepted watch) also resets the backoff, a list page alone does not. */
  #alive(healthy = true): void {
    this.#lastActivity = this.#counters.lastEventAt = this.#now();
    if (healthy) this.#nextDelay = this.#backoff.initial;
  }

  /** Ends the current loop: its watch and its list page in flight are aborted, its pending wait ends, its list is dropped. */
  #endLoop(): void {
    this.#generation++;
    this.#abortWatch?.();
    this.#abortWatch = undefined;
    this.#loopAbort?.abort();
    this.#loopAbort = undefined;
    if (this.#delay) {
      clearTimeout(this.#delay.timer);
      this.#delay.wake();
      this.#delay = undefined;
    }
  }

  /** A new loop, starting with a full list. */
  #launch(): void {
    this.#endLoop();
    this.#lastActivity = this.#now();
    const gen = this.#generation;
    const mine = (): boolean => gen === this.#generation && !this.#stopped;
    this.#loopAbort = new AbortController();
    this.#loop(mine, this.#loopAbort.signal).catch((err: unknown) => {
      // Every expected failure is handled inside the loop; this is a bug, and a watchdog restart recovers from it.
      if (mine()) this.#logger.error({ err }, 'informer loop failed');
    });
  }

  /** List, then watch and re-watch from the last resourceVersion, until a 410 asks for a relist; forever, while `mine()`. */
  async #loop(mine: () => boolean, signal: AbortSignal): Promise<void> {
    const watch = new ObservedWatch(this.#options.kubeConfig, () => {
      if (mine()) this.#alive();
    });
    let resourceVersion: string | undefined;
    while (mine()) {
      if (resourceVersion === undefined) {
        const gen = this.#generation;
        this.#listing = gen;
        try {
          resourceVersion = await this.#list(mine, signal);
        } catch (err) {
          if (mine()) await this.#failed('list', err, mine);
        } finally {
          if (this.#listing === gen) this.#listing = undefined;
        }
        continue;
      }
      const connection = watchOnce(watch, this.#options.path, resourceVersion, this.#target(mine));
      this.#abortWatch = connection.abort;
      const end = await connection.ended;
      if (!mine()) return;
      this.#abortWatch = undefined;
      resourceVersion = end.kind === 'gone' ? undefined : end.resourceVersion;
      await this.#afterWatch(end, mine);
    }
  }

  /** One full list into a fresh sink, committed when complete; returns its resourceVersion (undefined if superseded). */
  async #list(mine: () => boolean, signal: AbortSignal): Promise<string | undefined> {
    const { listPage, handlers } = this.#options;
    const listed = await streamList({
      listPage,
      pageSize: this.#options.pageSize ?? 500,
      open: () => handlers.list(),
      current: mine,
      onPage: () => this.#alive(false),
      logger: this.#logger,
      signal,
      pageTimeoutMs: this.#options.listPageTimeoutMs,
    });
    if (!listed || !mine()) return undefined;
    listed.sink.commit();
    this.#counters.lists++;
    this.#alive();
    this.#counters.lastListAt = this.#counters.lastEventAt;
    if (!this.#synced) {
      this.#synced = true;
      this.#logger.info({ objects: listed.objects }, 'informer synced');
      this.#firstSync.resolve();
    }
    return listed.resourceVersion;
  }

  /** The handlers, for the current loop only; a handler's exception is logged (client-node's Watch would swallow it). */
  #target(mine: () => boolean): WatchTarget<T> {
    const { handlers } = this.#options;
    const guarded = (fn: (obj: T) => void) => (obj: T) => {
      if (!mine()) return;
      try {
        fn(obj);
      } catch (err) {
        this.#logger.error({ err, name: obj.metadata?.name, namespace: obj.metadata?.namespace }, 'informer handler failed');
      }
    };
    return { upsert: guarded((o) => handlers.upsert(o)), remove: guarded((o) => handlers.remove(o)) };
  }

  /**
   * What to wait for before the next watch or list. An error backs off. A clean close, a timeout
   * (itself 30 s of waiting) or a 410 goes on at once if the watch delivered something; a watch
   * that delivered nothing backs off, so a server that ends every watch at once, or answers 410 to
   * the resourceVersion it just listed at, makes no tight loop (client-go's reflector: "very short watch").
   */
  async #afterWatch(end: WatchEnd, mine: () => boolean): Promise<void> {
    if (end.kind === 'error') return this.#failed('watch', end.error, mine);
    if (end.kind === 'gone') this.#logger.info({ resourceVersion: end.resourceVersion }, 'watch resourceVersion too old (410 Gone); relisting');
    else this.#logger.debug({ end: end.kind, events: end.events, resourceVersion: end.resourceVersion }, 'watch ended; watching again');
    if (end.events === 0 && end.kind !== 'timeout') await this.#wait(this.#takeDelay(), mine);
  }

  /** A list (a page that failed or timed out) or a watch failed: count it, log it and wait the backoff. */
  async #failed(call: 'list' | 'watch', err: unknown, mine: () => boolean): Promise<void> {
    const delay = this.#takeDelay();
    this.#counters.reconnects++;
    this.#logger.warn({ call, err: describeError(err), retryInMs: delay }, 'list/watch failed; resuming');
    await this.#wait(delay, mine);
  }

  #takeDelay(): number {
    const delay = this.#nextDelay;
    this.#nextDelay = Math.min(this.#nextDelay * 2, this.#backoff.max);
    return delay;
  }

  /** Waits `ms`, or less if the loop ends meanwhile. */
  #wait(ms: number, mine: () => boolean): Promise<void> {
    if (!mine()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#delay = { timer: setTimeout(resolve, ms), wake: resolve };
    });
  }

  #restart(reason: 'watchdog' | 'resync'): void {
    // A list in progress is a resync already; restarting it would never let a list longer than resyncMs finish.
    if (reason === 'resync' && this.#listing === this.#generation) return;
    if (reason === 'watchdog') this.#counters.restarts++;
    else this.#counters.resyncs++;
    this.#logger[reason === 'watchdog' ? 'warn' : 'debug']({ reason, quietMs: this.#now() - this.#lastActivity }, 'restarting informer (relist)');
    this.#launch();
  }
}
