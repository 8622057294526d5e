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
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
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
  const { resource, kubeConfig, path, handlers } = options;
  const logger = options.logger.child({ resource });
  const now = options.now ?? Date.now;
  const watchdogMs = options.watchdogMs ?? 5 * 60_000;
  const resyncMs = options.resyncMs ?? 10 * 60_000;
  const backoff = options.backoffMs ?? { initial: 1000, max: 30_000 };
  const pageSize = options.pageSize ?? 500;

  let generation = 0;
  let current: ListWatch<T> | undefined;
  let stopped = false;
  let started = false;
  let synced = false;
  let lastActivity = now();
  let lastEventAt: number | undefined;
  let lastListAt: number | undefined;
  let lists = 0;
  let restarts = 0;
  let reconnects = 0;
  let resyncs = 0;
  let nextDelay = backoff.initial;
  let retryTimer: NodeJS.Timeout | undefined;
  let watchdogTimer: NodeJS.Timeout | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;
  let resolveSynced: () => void = () => undefined;
  let rejectSynced: (err: Error) => void = () => undefined;
  const firstSync = new Promise<void>((resolve, reject) => {
    resolveSynced = resolve;
    rejectSynced = reject;
  });
  // A caller that never awaits start() must not see an unhandled rejection when it stops early.
  firstSync.catch(() => undefined);

  const alive = (): void => {
    lastActivity = lastEventAt = now();
    nextDelay = backoff.initial;
  };

  async function listAll(): Promise<KubernetesListObject<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await options.listPage(cont ? { limit: pageSize, _continue: cont } : { limit: pageSize });
      items.push(...(page.items ?? []));
      // Every page of a paged list is served from the first page's snapshot (same resourceVersion).
      resourceVersion ??= page.metadata?.resourceVersion;
      const meta = page.metadata as { _continue?: string; continue?: string } | undefined;
      cont = meta?._continue ?? meta?.continue ?? undefined;
    } while (cont);
    return { metadata: { resourceVersion }, items };
  }

  function launch(): void {
    const gen = ++generation;
    const old = current;
    current = undefined;
    void old?.stop();
    clearTimeout(retryTimer);
    lastActivity = now();

    const mine = (): boolean => gen === generation && !stopped;
    const watch = new ObservedWatch(kubeConfig, () => {
      if (mine()) alive();
    });
    const listFn = async (): Promise<KubernetesListObject<T>> => {
      const list = await listAll();
      if (!mine()) return list;
      lists++;
      handlers.replace(list.items);
      alive();
      lastListAt = lastEventAt;
      if (!synced) {
        synced = true;
        logger.info({ objects: list.items.length }, 'informer synced');
        resolveSynced();
      }
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
      if (mine()) resumeAfterError(informer, gen, err);
    });
    current = informer;
    informer.start().catch((err: unknown) => {
      if (mine()) resumeAfterError(informer, gen, err);
    });
  }

  /** client-node left the informer stopped after an error: resume it, from its last resourceVersion. */
  function resumeAfterError(informer: ListWatch<T>, gen: number, err: unknown): void {
    const delay = nextDelay;
    nextDelay = Math.min(nextDelay * 2, backoff.max);
    reconnects++;
    logger.warn({ err: describeError(err), retryInMs: delay }, 'list/watch failed; resuming');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (gen !== generation || stopped) return;
      informer.start().catch((e: unknown) => {
        if (gen === generation && !stopped) resumeAfterError(informer, gen, e);
      });
    }, delay);
  }

  function restart(reason: 'watchdog' | 'resync'): void {
    if (reason === 'watchdog') restarts++;
    else resyncs++;
    logger[reason === 'watchdog' ? 'warn' : 'debug']({ reason, quietMs: now() - lastActivity }, 'restarting informer (relist)');
    launch();
  }

  return {
    start() {
      if (stopped) return Promise.reject(new Error(`informer ${resource} is stopped`));
      if (!started) {
        started = true;
        launch();
        // Check often enough to notice a stall soon after watchdogMs, not so often it costs anything.
        watchdogTimer = setInterval(
          () => {
            if (now() - lastActivity > watchdogMs) restart('watchdog');
          },
          Math.max(25, Math.min(watchdogMs / 4, 10_000)),
        );
        if (resyncMs > 0) resyncTimer = setInterval(() => restart('resync'), resyncMs);
      }
      return firstSync;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      generation++;
      clearTimeout(retryTimer);
      clearInterval(watchdogTimer);
      clearInterval(resyncTimer);
      if (!synced) rejectSynced(new Error(`informer ${resource} stopped before its first sync`));
      const informer = current;
      current = undefined;
      await informer?.stop();
    },
    status() {
      return { resource, synced, lastEventAt, lastListAt, lists, restarts, reconnects, resyncs };
    },
  };
}

/** A short description of a client-node error (ApiException bodies can be whole Status objects). */
export function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { code?: unknown; statusCode?: unknown; body?: { message?: unknown }; message?: unknown; name?: unknown };
  const code = e.code ?? e.statusCode;
  const message = typeof e.body?.message === 'string' ? e.body.message : String(e.message ?? e.name ?? 'error').split('\n')[0];
  return code !== undefined ? `${String(code)}: ${message}` : String(message);
}
