/**
 * The two calls a {@link ResilientInformer} loop is made of, as client-go's reflector makes them
 * (docs/design.md#oidcgroupbinding): a list streamed page by page into a sink, and one watch
 * connection from a resourceVersion, reduced to how it ended.
 */
import {
  Observable,
  Watch,
  type ConfigurationOptions,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

/**
 * One page of a list call; client-node 2.x list methods take `{ limit, _continue }` and return the
 * body. `options` must reach the method as its second argument: it carries the page's abort signal.
 */
export type ListPageFn<T extends KubernetesObject> = (
  page: { limit: number; _continue?: string },
  options: ConfigurationOptions,
) => Promise<KubernetesListObject<T>>;

/**
 * How long one list page may take, ms. client-node sets no timeout on a list, so a request the
 * apiserver never answers (a half-open connection) would stay pending forever. The apiserver
 * itself ends every request that is not a watch after its `--request-timeout`, 60 s by default
 * (k8s.io/apiserver pkg/server/config.go `RequestTimeout`), answering 504: past 60 s no answer is
 * coming, and a page of 500 objects takes well under a second. Also well under the watchdog's
 * 5 minutes, so a hung page is retried with the loop's backoff, not by a watchdog restart.
 */
export const LIST_PAGE_TIMEOUT_MS = 60_000;

/**
 * Per-call options that abort the request when `signal` does. The middleware is appended to the
 * API's own (client-node's User-Agent; the KubeConfig's auth is applied apart, through
 * `authMethods`), and sets the RequestContext's signal, which client-node's fetch passes on
 * (gen/http/isomorphic-fetch.js); the signal also aborts reading the body.
 */
export function abortOptions(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre(context: RequestContext) {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/**
 * Where one full list goes: every page as it arrives, then `commit()` once the last page is in.
 * A list that fails or is superseded is dropped without `commit()`, so a sink stages what it
 * needs (compact, not the raw objects) and changes the served view only in `commit()`.
 */
export interface ListSink<T> {
  page(items: readonly T[]): void;
  commit(): void;
}

/**
 * The HTTP status of a client-node error: `code` on an ApiException, `statusCode` on a Watch error.
 * None for an aborted fetch: a DOMException's `code` is its legacy error number (20 for AbortError).
 */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || err instanceof DOMException) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  const code = e.code ?? e.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A short description of a client-node error (ApiException bodies can be whole Status objects). */
export function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { body?: { message?: unknown }; message?: unknown; name?: unknown };
  const code = statusOf(err);
  const message = typeof e.body?.message === 'string' ? e.body.message : String(e.message ?? e.name ?? 'error').split('\n')[0];
  return code !== undefined ? `${String(code)}: ${message}` : String(message);
}

/** What {@link streamList} read: the sink holding every page, the list's resourceVersion, how many objects. */
export interface StreamedList<T> {
  readonly sink: ListSink<T>;
  readonly resourceVersion: string;
  readonly objects: number;
}

export interface StreamListOptions<T extends KubernetesObject> {
  readonly listPage: ListPageFn<T>;
  readonly pageSize: number;
  /** A fresh sink for a list that starts (again) from its first page. */
  readonly open: () => ListSink<T>;
  /** False once the caller's loop is over: stop fetching pages, drop the sink. */
  readonly current: () => boolean;
  /** Called for every page that arrived (a sign of life). */
  readonly onPage: () => void;
  readonly logger: Logger;
  /** Aborts the page in flight when the caller's loop ends. */
  readonly signal?: AbortSignal;
  /** Default {@link LIST_PAGE_TIMEOUT_MS}. */
  readonly pageTimeoutMs?: number;
}

/**
 * Lists every page into a sink and returns it, uncommitted; `undefined` when the loop ended
 * meanwhile. Only one page of raw objects is alive at a time: the sink keeps what it projects.
 * Every page is served from the first page's snapshot (same resourceVersion). A continue token
 * that expired meanwhile (410 on a continue page: the snapshot was compacted away, etcd's
 * `--etcd-compaction-interval` is 5 minutes) restarts the list from its first page with a new
 * sink; the apiserver's offered token would make an inconsistent list.
 *
 * Every page request is aborted after `pageTimeoutMs`, or when `signal` aborts; a timed-out page
 * rejects with an ordinary Error (no HTTP status), a list failure like any other.
 */
export async function streamList<T extends KubernetesObject>(options: StreamListOptions<T>): Promise<StreamedList<T> | undefined> {
  const { listPage, pageSize } = options;
  const timeoutMs = options.pageTimeoutMs ?? LIST_PAGE_TIMEOUT_MS;
  let sink = options.open();
  let cont: string | undefined;
  let resourceVersion: string | undefined;
  let objects = 0;
  for (;;) {
    let page: KubernetesListObject<T>;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      page = await listPage(cont ? { limit: pageSize, _continue: cont } : { limit: pageSize }, abortOptions(signal));
    } catch (err) {
      // fetch rejects with the signal's reason, a DOMException: name it, so it reads (and counts) as what it is.
      if (timeout.aborted) throw new Error(`list page not answered within ${timeoutMs} ms`, { cause: err });
      if (!cont || statusOf(err) !== 410 || !options.current()) throw err;
      options.logger.info({ objectsListed: objects }, 'list continue token expired; listing again from the first page');
      [sink, cont, resourceVersion, objects] = [options.open(), undefined, undefined, 0];
      continue;
    }
    if (!options.current()) return undefined;
    options.onPage();
    resourceVersion ??= page.metadata?.resourceVersion;
    const items = page.items ?? [];
    objects += items.length;
    sink.page(items);
    const meta = page.metadata as { _continue?: string; continue?: string } | undefined;
    cont = meta?._continue || meta?.continue || undefined;
    if (!cont) break;
  }
  if (!resourceVersion) throw new Error('the list carried no metadata.resourceVersion to watch from');
  return { sink, resourceVersion, objects };
}

/**
 * A Watch that asks for BOOKMARKs and reports signs of life: every line received, and every watch
 * the server accepted (HTTP 200). The accepted watch counts because client-node aborts a watch
 * after 30 s without data (watch.js requestTimeoutMs), after which the informer re-watches from
 * its resourceVersion, while the apiserver sends bookmarks only about once a minute (cacher.go
 * defaultBookmarkFrequency): on a quiet resource no bookmark ever arrives, and counting only lines
 * would make the watchdog relist every watchdogMs for nothing.
 */
export class ObservedWatch extends Watch {
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

/**
 * How a watch connection ended, with the resourceVersion to resume from (the last event's or
 * BOOKMARK's) and how many ADDED/MODIFIED/DELETED/BOOKMARK events it delivered.
 * - `closed`: the server ended the stream cleanly (its watch timeout);
 * - `timeout`: client-node's inactivity timeout (30 s without a byte);
 * - `gone`: 410, as an HTTP answer or as an `ERROR` event whose Status has code 410 (the
 *   apiserver's answer to a resourceVersion older than its watch cache): relist;
 * - `error`: anything else (network, HTTP error, another `ERROR` event).
 */
export interface WatchEnd {
  readonly kind: 'closed' | 'timeout' | 'gone' | 'error';
  readonly resourceVersion: string;
  readonly events: number;
  readonly error?: unknown;
}

/** What a watch hands on: changed and deleted objects. */
export interface WatchTarget<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

/** One watch connection from `resourceVersion`: `ended` resolves when it ends; `abort()` ends it early. */
export function watchOnce<T extends KubernetesObject>(
  watch: Watch,
  path: string,
  resourceVersion: string,
  target: WatchTarget<T>,
): { readonly ended: Promise<WatchEnd>; abort(): void } {
  const state = { resourceVersion, events: 0, status: undefined as { code?: unknown; message?: unknown } | undefined };
  let controller: AbortController | undefined;
  let aborted = false;
  const ended = new Promise<WatchEnd>((resolve) => {
    const end = (err: unknown): void => resolve(watchEnd(state, err));
    const onEvent = (type: string, obj: T): void => {
      if (type === 'ERROR') {
        state.status = obj as { code?: unknown; message?: unknown };
        return;
      }
      if (type === 'ADDED' || type === 'MODIFIED') target.upsert(obj);
      else if (type === 'DELETED') target.remove(obj);
      else if (type !== 'BOOKMARK') return;
      state.events++;
      state.resourceVersion = obj.metadata?.resourceVersion || state.resourceVersion;
    };
    watch.watch(path, { resourceVersion }, onEvent, end).then((c) => {
      controller = c;
      if (aborted) c.abort();
    }, end);
  });
  return {
    ended,
    abort() {
      aborted = true;
      controller?.abort();
    },
  };
}

function watchEnd(state: { resourceVersion: string; events: number; status: { code?: unknown; message?: unknown } | undefined }, err: unknown): WatchEnd {
  const { resourceVersion, events, status } = state;
  if (status) {
    const kind = status.code === 410 ? 'gone' : 'error';
    return { kind, resourceVersion, events, error: { code: status.code, message: status.message } };
  }
  if (!err) return { kind: 'closed', resourceVersion, events };
  if ((err as { name?: unknown }).name === 'TimeoutError') return { kind: 'timeout', resourceVersion, events };
  return { kind: statusOf(err) === 410 ? 'gone' : 'error', resourceVersion, events, error: err };
}
