/**
 * A self-healing informer on top of client-node's ListWatch (the machinery behind makeInformer).
 *
 * client-node 2.0.1 recovers on its own from a cleanly closed watch, a client-side inactivity
 * timeout and a 410 Gone (it relists). It does NOT recover from anything else: a network error on
 * the watch or a failed list calls the `error` callbacks and the informer stays stopped (cache.js
 * doneHandler). And informers are known to stop delivering events silently
 * (kubernetes-client/javascript issues #596, #1933). So this wrapper:
 *  - resumes after an error (same ListWatch, from its last resourceVersion) with exponential backoff;
 *  - runs a watchdog: no list, event, BOOKMARK or accepted watch for `watchdogMs` → a fresh
 *    informer and a relist (a hung list, an informer that died without an error, a stall);
 *  - relists every `resyncMs` as a safety net;
 *  - hands every full list to `replace()` so a relist drops objects deleted while disconnected.
 * Watches ask for BOOKMARKs, which count as signs of life.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** One page of a list call; client-node 2.x list methods take `{ limit, _continue }` and return the body. */
export type ListPageFn<T extends KubernetesObject> = (page: { limit: number; _continue?: string }) => Promise<KubernetesListObject<T>>;

/** Where the informer's view goes. `replace` gets every full list (first sync and relists). */
export interface InformerHandlers<T> {
  replace(items: T[]): void;
  upsert(obj: T): void;
  remove(obj: T): void;
}

/** Times are epoch milliseconds. */
export interface InformerStatus {
  readonly resource: string;
  readonly synced: boolean;
  /** Last list, watch event, bookmark or accepted watch connection. */
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
  readonly now?: () => number;
}

export interface ResilientInformer {
  /** Starts listing and watching; resolves after the first successful full list. Rejects if stopped first. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): InformerStatus;
}

/**
 * A Watch that asks for BOOKMARKs and reports signs of life: every line received, and every watch
 * the server accepted (HTTP 200). The accepted watch counts because client-node aborts a watch
 * after 30 s without data (watch.js requestTimeoutMs) and reconnects from its resourceVersion,
 * while the apiserver sends bookmarks only about once a minute (cacher.go defaultBookmarkFrequency):
 * on a quiet resource no bookmark ever arrives, and counting only lines would make the watchdog
 * relist every watchdogMs for nothing.
 */
class ObservedWatch extends Watch {
  readonly #onActivity: () => void;

  constructor(kubeConfig: KubeConfig, onActivity: () => void) {
    super(kubeConfig);
    this.#onActivity = onActivity;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    // biome-ignore lint/suspicious/noExplicitAny: an override must keep client-node's Watch.watch signature.
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    done: (err: any) => void,
  ): Promise<AbortController> {
    let finished = false;
    const controller = await super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true },
      (phase, obj, raw) => {
        this.#onActivity();
        callback(phase, obj, raw);
      },
      (err) => {
        finished = true;
        done(err);
      },
    );
    // super.watch resolves once the response headers arrived, or after it already called done (error).
    if (!finished) this.#onActivity();
    return controller;
  }
}

/** Creates a {@link ResilientInformer}; nothing happens until `start()`. */
export function createResilientInformer<T extends KubernetesObject>(options: ResilientInformerOptions<T>): ResilientInformer {
  return new Informer(options);
}

/** Every page of a list, joined. */
async function listAll<T extends KubernetesObject>(listPage: ListPageFn<T>, pageSize: number): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let cont: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const page = await listPage(cont ? { limit: pageSize, _continue: cont } : { limit: pageSize });
    items.push(...(page.items ?? []));
    // Every page of a paged list is served from the first page's snapshot (same resourceVersion).
    resourceVersion ??= page.metadata?.resourceVersion;
    const meta = page.metadata as { _continue?: string; continue?: string } | undefined;
    cont = meta?._continue ?? meta?.continue ?? undefined;
  } while (cont);
  return { metadata: { resourceVersion }, items };
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
  /** Bumped by every launch and by stop: callbacks of an older ListWatch see it changed and do nothing. */
  #generation = 0;
  #current: ListWatch<T> | undefined;
  #stopped = false;
  #started = false;
  #synced = false;
  #lastActivity: number;
  #nextDelay: number;
  #retryTimer: NodeJS.Timeout | undefined;
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
    this.#generation++;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#watchdogTimer);
    clearInterval(this.#resyncTimer);
    if (!this.#synced) this.#firstSync.reject(new Error(`informer ${this.#options.resource} stopped before its first sync`));
    const informer = this.#current;
    this.#current = undefined;
    await informer?.stop();
  }

  status(): InformerStatus {
    return { resource: this.#options.resource, synced: this.#synced, ...this.#counters };
  }

  #alive(): void {
    this.#lastActivity = this.#counters.lastEventAt = this.#now();
    this.#nextDelay = this.#backoff.initial;
  }

  #launch(): void {
    const gen = ++this.#generation;
    const old = this.#current;
    this.#current = undefined;
    void old?.stop();
    clearTimeout(this.#retryTimer);
    this.#lastActivity = this.#now();

    const { kubeConfig, path, handlers } = this.#options;
    const mine = (): boolean => gen === this.#generation && !this.#stopped;
    const watch = new ObservedWatch(kubeConfig, () => {
      if (mine()) this.#alive();
    });
    const listFn = async (): Promise<KubernetesListObject<T>> => {
      const list = await listAll(this.#options.listPage, this.#options.pageSize ?? 500);
      if (mine()) this.#listed(list.items);
      return list;
    };
    const informer = new ListWatch<T>(path, watch, listFn, false);
    informer.on('add', (obj) => {
      if (mine()) handlers.upsert(obj);
    });
    informer.on('update', (obj) => {
      if (mine()) handlers.upsert(obj);
    });
    informer.on('delete', (obj) => {
      if (mine()) handlers.remove(obj);
    });
    informer.on('error', (err) => {
      if (mine()) this.#resumeAfterError(informer, gen, err);
    });
    this.#current = informer;
    informer.start().catch((err: unknown) => {
      if (mine()) this.#resumeAfterError(informer, gen, err);
    });
  }

  /** A full list of the current ListWatch arrived: it replaces the view, and the first one completes start(). */
  #listed(items: T[]): void {
    this.#counters.lists++;
    this.#options.handlers.replace(items);
    this.#alive();
    this.#counters.lastListAt = this.#counters.lastEventAt;
    if (!this.#synced) {
      this.#synced = true;
      this.#logger.info({ objects: items.length }, 'informer synced');
      this.#firstSync.resolve();
    }
  }

  /** client-node left the informer stopped after an error: resume it, from its last resourceVersion. */
  #resumeAfterError(informer: ListWatch<T>, gen: number, err: unknown): void {
    const delay = this.#nextDelay;
    this.#nextDelay = Math.min(this.#nextDelay * 2, this.#backoff.max);
    this.#counters.reconnects++;
    this.#logger.warn({ err: describeError(err), retryInMs: delay }, 'list/watch failed; resuming');
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (gen !== this.#generation || this.#stopped) return;
      informer.start().catch((e: unknown) => {
        if (gen === this.#generation && !this.#stopped) this.#resumeAfterError(informer, gen, e);
      });
    }, delay);
  }

  #restart(reason: 'watchdog' | 'resync'): void {
    if (reason === 'watchdog') this.#counters.restarts++;
    else this.#counters.resyncs++;
    this.#logger[reason === 'watchdog' ? 'warn' : 'debug']({ reason, quietMs: this.#now() - this.#lastActivity }, 'restarting informer (relist)');
    this.#launch();
  }
}

/** A short description of a client-node error (ApiException bodies can be whole Status objects). */
export function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { code?: unknown; statusCode?: unknown; body?: { message?: unknown }; message?: unknown; name?: unknown };
  const code = e.code ?? e.statusCode;
  const message = typeof e.body?.message === 'string' ? e.body.message : String(e.message ?? e.name ?? 'error').split('\n')[0];
  return code !== undefined ? `${String(code)}: ${message}` : String(message);
}
