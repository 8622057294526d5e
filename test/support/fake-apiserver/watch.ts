/**
 * Watch streams of the fake API server: newline-delimited JSON events after a resourceVersion,
 * BOOKMARKs when asked for, and the apiserver's answer to a too-old resourceVersion — a 200
 * response carrying one `ERROR` event with a 410 `Expired` Status, then the end of the stream
 * (k8s.io/apiserver/pkg/storage/cacher: "too old resource version").
 */
import type { ServerResponse } from 'node:http';
import { apiVersionOf, type ResourceInfo } from './resources.ts';
import { matches, StatusError, type FakeStore, type Filter, type StoreEvent } from './store.ts';

/** One open watch connection. */
export interface OpenWatch {
  readonly resource: ResourceInfo;
  readonly res: ServerResponse;
  /** A stalled watch keeps its connection open and never sends another byte. */
  stalled: boolean;
  close(destroy: boolean): void;
}

export interface WatchRequest {
  readonly resource: ResourceInfo;
  readonly filter: Filter;
  readonly resourceVersion: string | undefined;
  readonly bookmarks: boolean;
  readonly timeoutSeconds: number | undefined;
  /** Accept the connection but stall it from the start (the server is in "paused" mode). */
  readonly stalled: boolean;
  readonly bookmarkIntervalMs: number;
}

/** Serves one watch request on `res`; returns the handle the server uses for its test controls. */
export function serveWatch(
  store: FakeStore,
  req: WatchRequest,
  res: ServerResponse,
  onClose: (w: OpenWatch) => void,
  onBookmark: (resource: ResourceInfo) => void = () => undefined,
): OpenWatch {
  const { resource, filter } = req;
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
  // Flush the headers now: clients (undici fetch) resolve on headers, before any event arrives.
  res.flushHeaders();
  let unsubscribe: () => void = () => undefined;
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const watch: OpenWatch = {
    resource,
    res,
    stalled: req.stalled,
    close(destroy) {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(bookmarkTimer);
      clearTimeout(timeoutTimer);
      if (destroy) res.destroy();
      else res.end();
      onClose(watch);
    },
  };
  res.on('close', () => watch.close(false));

  const send = (type: string, object: unknown): void => {
    if (closed || watch.stalled) return;
    res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const sendEvent = (e: StoreEvent): void => {
    if (e.resource !== resource || !matches(e.object, filter)) return;
    send(e.type, e.object);
  };

  const rv = req.resourceVersion;
  if (!rv || rv === '0') {
    // "Get State and Start at Most Recent" / "Start at Any": synthetic ADDED for every object.
    for (const obj of store.list(resource, filter).items) send('ADDED', obj);
  } else {
    let backlog: StoreEvent[];
    try {
      backlog = store.eventsSince(Number(rv));
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      send('ERROR', err.toStatus());
      watch.close(false);
      return watch;
    }
    for (const e of backlog) sendEvent(e);
  }
  unsubscribe = store.subscribe(sendEvent);

  if (req.bookmarks) {
    bookmarkTimer = setInterval(() => {
      if (closed || watch.stalled) return;
      send('BOOKMARK', { kind: resource.kind, apiVersion: apiVersionOf(resource), metadata: { resourceVersion: String(store.resourceVersion) } });
      onBookmark(resource);
    }, req.bookmarkIntervalMs);
    bookmarkTimer.unref();
  }
  if (req.timeoutSeconds && req.timeoutSeconds > 0) {
    // The apiserver ends a watch cleanly at its timeout; clients reconnect from their last version.
    timeoutTimer = setTimeout(() => watch.close(false), req.timeoutSeconds * 1000);
    timeoutTimer.unref();
  }
  return watch;
}
