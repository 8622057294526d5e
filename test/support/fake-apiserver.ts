/**
 * A fake Kubernetes API server for tests: a real HTTP server on 127.0.0.1 that speaks enough of
 * the API for @kubernetes/client-node (typed APIs, CustomObjectsApi, informers). Generic over
 * resources; see fake-apiserver/resources.ts for the built-in ones.
 *
 * Routes: `/api/v1/...` and `/apis/<group>/<version>/...`, namespaced, cluster-scoped and
 * all-namespaces; list (with `limit`/`continue`, label and field selectors), get, create, update
 * (optimistic concurrency), patch (merge, strategic-as-merge, JSON patch, apply-as-merge), delete,
 * `?watch=true` streams, discovery; errors as `Status` bodies. Test controls cut, stall, compact,
 * hold and hang, so informer recovery can be tested against real client-node code.
 *
 * Real kube-apiserver behaviours it reproduces, each checked against the responses recorded from
 * v1.32 in `../shared/k8s-recorded/api/` (test/kube/fake-apiserver-recorded.test.ts) — where the
 * two disagree, the recording wins:
 * - list items of built-in kinds carry no `kind`/`apiVersion`, only the list does (`PodList`);
 *   custom resources keep both on every item (fake-apiserver/list.ts);
 * - `metadata.resourceVersion` on every list, `continue` and `remainingItemCount` on a page that
 *   has more, `continue: ""` on a custom resource list's last page;
 * - Table output only for `Accept: …;as=Table;v=v1;g=meta.k8s.io`, JSON otherwise;
 * - single GET, create, update, patch responses and watch events carry `kind`/`apiVersion`;
 * - an expired continue token: 410 with reason `Expired`, the apiserver's message and a fresh
 *   token in the Status's metadata; a too-old watch resourceVersion: a 200 stream with one
 *   `ERROR` event holding a 410 `Expired` Status (fake-apiserver/watch.ts);
 * - BOOKMARK events with `allowWatchBookmarks=true`, carrying only `kind`, `apiVersion` and
 *   `metadata.resourceVersion` of the watched kind;
 * - a kind whose CRD is not installed: 404 for its URLs and absent from discovery (`omit`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BUILTIN_RESOURCES, ResourceRegistry, resourceKey, type ResourceInfo } from './fake-apiserver/resources.ts';
import { listBody, tableBody, wantsTable } from './fake-apiserver/list.ts';
import { parseRoute } from './fake-apiserver/routes.ts';
import { FakeStore, StatusError, type KubeObject } from './fake-apiserver/store.ts';
import { serveWatch, type OpenWatch } from './fake-apiserver/watch.ts';
import { DEFAULT_USERS, SELF_SUBJECT_REVIEWS, selfSubjectReview } from './fake-apiserver/self-subject-review.ts';

export { BUILTIN_RESOURCES, type ResourceInfo } from './fake-apiserver/resources.ts';
export { StatusError, type KubeObject } from './fake-apiserver/store.ts';

/** One request the server answered, for assertions. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** `group/version/resource`, when the path named a resource. */
  readonly resource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly watch: boolean;
}

/** Which requests a {@link Fault} applies to, and how many. */
export interface FaultMatch {
  readonly method?: string;
  /** Plural or `group/version/resource`. */
  readonly resource?: string;
  /** Match only watch requests (true), only non-watch requests (false), or both (undefined). */
  readonly watch?: boolean;
  /** Match only list requests with a `continue` token (true: a list's later pages), or only without (false). */
  readonly continued?: boolean;
  readonly count?: number;
}

/**
 * A fault to inject: the next `count` matching requests get `status` (a Status body), or with
 * `hang` are accepted and never answered, as by a server or a half-open connection that hangs
 * (see {@link FakeApiServer.hungRequests}).
 */
export type Fault = FaultMatch & ({ readonly status: number } | { readonly hang: true });

export interface FakeApiServerOptions {
  /** Extra resources (CRDs) to serve besides {@link BUILTIN_RESOURCES}. */
  readonly resources?: readonly ResourceInfo[];
  /** BOOKMARK interval for watches with `allowWatchBookmarks=true`, ms. Default 1000 (the apiserver: about a minute). */
  readonly bookmarkIntervalMs?: number;
  /** Plurals of resources not to serve, as if their CRD were not installed (e.g. `['policyreports']`). */
  readonly omit?: readonly string[];
  /** Bearer token → username, for SelfSubjectReviews. Default: writeKubeconfig()'s token is `system:serviceaccount:idgate-system:idgate`. */
  readonly users?: Readonly<Record<string, string>>;
}

/** A `{ apiVersion, kind, metadata: { name, namespace } }` reference to an object. */
export interface ObjectRef {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

/** The running fake server, its store helpers and test controls. */
export interface FakeApiServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request answered, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Stores objects as if POSTed (409 if present). Returns the stored copy (with resourceVersion). */
  create(obj: KubeObject): KubeObject;
  /** Creates several objects. */
  seed(objs: Iterable<KubeObject>): void;
  /** Replaces an object as if PUT; a stale metadata.resourceVersion throws a 409 StatusError. */
  update(obj: KubeObject): KubeObject;
  /** Creates or replaces (unconditionally). */
  apply(obj: KubeObject): KubeObject;
  delete(ref: ObjectRef): KubeObject;
  get(ref: ObjectRef): KubeObject | undefined;
  /** Objects of a kind (all namespaces, or one). */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  /** The latest resourceVersion. */
  resourceVersion(): number;
  /** How many list (non-watch collection GET) requests a resource got; plural or `group/version/resource`. */
  listRequests(resource: string): number;
  /** How many watch requests a resource got. */
  watchRequests(resource: string): number;
  /** BOOKMARK events sent so far (optionally to watches of one resource). */
  bookmarksSent(resource?: string): number;
  /** Open watch connections (optionally of one resource). */
  openWatches(resource?: string): number;
  /** Destroys every open watch connection (a network cut; clients see an error). Returns how many. */
  cutWatches(): number;
  /** Ends every open watch cleanly (as the apiserver's watch timeout does). Returns how many. */
  closeWatches(): number;
  /** Makes every resourceVersion up to now too old: watches from them get a 410 Expired ERROR event. */
  compact(): void;
  /** Silent stall: open and new watches stay connected but receive nothing, ever. */
  pauseWatches(): void;
  /** New watches work again (connections stalled while paused stay dead, like a half-open TCP connection). */
  resumeWatches(): void;
  /** Holds list requests (of one resource, or all) until the returned function is called. */
  holdLists(resource?: string): () => void;
  /** Answers the next matching requests with an error Status, or never answers them (`hang`). */
  injectFault(fault: Fault): void;
  /** Requests a `hang` fault held: still open, and closed (the client aborted them or dropped the connection). */
  hungRequests(): { readonly open: number; readonly closed: number };
  /** Writes a kubeconfig pointing client-node at this server; returns its path. */
  writeKubeconfig(dir: string, fileName?: string): Promise<string>;
  close(): Promise<void>;
}

const MAX_BODY = 3 * 1024 * 1024;

/** Starts a fake API server on 127.0.0.1 and an ephemeral port. Close it with `close()`. */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const omitted = new Set(options.omit ?? []);
  const registry = new ResourceRegistry([...BUILTIN_RESOURCES, SELF_SUBJECT_REVIEWS, ...(options.resources ?? [])].filter((r) => !omitted.has(r.resource)));
  const store = new FakeStore();
  const requests: RecordedRequest[] = [];
  const watches = new Set<OpenWatch>();
  const bookmarks: ResourceInfo[] = [];
  const holds: { resource: string | undefined; gate: Promise<void>; release: () => void }[] = [];
  const faults: { fault: Fault; left: number }[] = [];
  const hung = { open: new Set<ServerResponse>(), closed: 0 };
  let paused = false;

  const sameResource = (r: ResourceInfo | undefined, name: string | undefined): boolean =>
    name === undefined || (r !== undefined && (r.resource === name || resourceKey(r) === name || resourceKey(r) === `/${name}`));
  const count = (name: string, watch: boolean): number => {
    const r = registry.byName(name);
    return requests.filter((q) => q.method === 'GET' && q.watch === watch && !q.name && r && q.resource === resourceKey(r)).length;
  };
  const refResource = (ref: ObjectRef): ResourceInfo => registry.byKind(ref.apiVersion ?? '', ref.kind ?? '');

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    const route = parseRoute(url.pathname, registry);
    const watch = method === 'GET' && (query.watch === 'true' || query.watch === '1');
    requests.push({
      method,
      path: url.pathname,
      query,
      watch,
      resource: route.resource && resourceKey(route.resource),
      namespace: route.namespace,
      name: route.name,
    });

    const fault = faults.find(
      (f) =>
        f.left > 0 &&
        (!f.fault.method || f.fault.method === method) &&
        (f.fault.watch === undefined || f.fault.watch === watch) &&
        (f.fault.continued === undefined || f.fault.continued === Boolean(query.continue)) &&
        sameResource(route.resource, f.fault.resource),
    );
    if (fault) {
      fault.left--;
      if ('hang' in fault.fault) {
        hung.open.add(res);
        res.on('close', () => {
          hung.open.delete(res);
          hung.closed++;
        });
        return;
      }
      const { status } = fault.fault;
      throw new StatusError(status, status === 410 ? 'Expired' : 'InternalError', `injected fault ${status}`);
    }
    if (route.discovery) return sendJson(res, 200, route.discovery);
    const resource = route.resource;
    if (!resource) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (resource === SELF_SUBJECT_REVIEWS) {
      const review = selfSubjectReview(req, options.users ?? DEFAULT_USERS);
      return sendJson(res, review.status, review.body);
    }
    const ns = route.namespace;
    const dryRun = query.dryRun === 'All';

    if (method === 'GET' && !route.name) {
      const filter = { namespace: ns, labelSelector: query.labelSelector, fieldSelector: query.fieldSelector };
      if (watch) {
        const w = serveWatch(
          store,
          {
            resource,
            filter,
            resourceVersion: query.resourceVersion,
            bookmarks: query.allowWatchBookmarks === 'true',
            timeoutSeconds: query.timeoutSeconds ? Number(query.timeoutSeconds) : undefined,
            stalled: paused,
            bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
          },
          res,
          (closed) => watches.delete(closed),
          (r) => bookmarks.push(r),
        );
        if (!res.writableEnded) watches.add(w);
        return;
      }
      for (const h of holds.filter((x) => sameResource(resource, x.resource))) await h.gate;
      const page = store.list(resource, filter, query.limit ? Number(query.limit) : undefined, query.continue);
      if (wantsTable(req.headers.accept)) return sendJson(res, 200, tableBody(page));
      return sendJson(res, 200, listBody(resource, page, Boolean(query.labelSelector || query.fieldSelector)));
    }
    if (method === 'GET') return sendJson(res, 200, store.get(resource, ns, route.name!));
    if (method === 'DELETE' && route.name) return sendJson(res, 200, store.delete(resource, ns, route.name, dryRun));

    const body = await readBody(req);
    const type = String(req.headers['content-type'] ?? 'application/json');
    const parsed: unknown = type.includes('yaml') ? parseYaml(body) : body ? JSON.parse(body) : {};
    if (method === 'POST' && !route.name) {
      const obj = parsed as KubeObject;
      if (resource.namespaced) {
        if (obj.metadata?.namespace && obj.metadata.namespace !== ns) {
          throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        obj.metadata = { ...obj.metadata, namespace: ns };
      }
      return sendJson(res, 201, store.create(resource, obj, dryRun));
    }
    if (method === 'PUT' && route.name) {
      const obj = parsed as KubeObject;
      if (obj.metadata?.name !== route.name) throw new StatusError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
      obj.metadata = { ...obj.metadata, namespace: ns };
      return sendJson(res, 200, store.update(resource, obj, { subresource: route.subresource, dryRun }));
    }
    if (method === 'PATCH' && route.name) {
      if (type.includes('apply-patch')) {
        // Server-side apply, simplified to create-or-merge (no field ownership).
        const exists = (() => {
          try {
            store.get(resource, ns, route.name!);
            return true;
          } catch {
            return false;
          }
        })();
        if (!exists)
          return sendJson(
            res,
            201,
            store.create(resource, { ...(parsed as KubeObject), metadata: { ...(parsed as KubeObject).metadata, name: route.name, namespace: ns } }, dryRun),
          );
      }
      return sendJson(res, 200, store.patch(resource, ns, route.name, type, parsed, { subresource: route.subresource, dryRun }));
    }
    throw new StatusError(405, 'MethodNotAllowed', `${method} is not supported on ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status =
        err instanceof StatusError
          ? err
          : err instanceof SyntaxError
            ? new StatusError(400, 'BadRequest', `the request body is not valid JSON: ${err.message}`)
            : new StatusError(500, 'InternalError', (err as Error).message);
      if (res.headersSent) res.destroy();
      else sendJson(res, status.code, status.toStatus());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const api: FakeApiServer = {
    url,
    requests,
    create: (obj) => store.create(refResource(obj), obj),
    seed(objs) {
      for (const o of objs) api.create(o);
    },
    update: (obj) => store.update(refResource(obj), obj),
    apply(obj) {
      const r = refResource(obj);
      if (!api.get(obj)) return store.create(r, obj);
      const { resourceVersion: _drop, ...meta } = obj.metadata ?? {};
      return store.update(r, { ...obj, metadata: meta });
    },
    delete: (ref) => store.delete(refResource(ref), ref.metadata?.namespace, ref.metadata?.name ?? ''),
    get(ref) {
      try {
        return store.get(refResource(ref), ref.metadata?.namespace, ref.metadata?.name ?? '');
      } catch {
        return undefined;
      }
    },
    list: (apiVersion, kind, namespace) => store.list(registry.byKind(apiVersion, kind), { namespace }).items,
    resourceVersion: () => store.resourceVersion,
    listRequests: (resource) => count(resource, false),
    watchRequests: (resource) => count(resource, true),
    bookmarksSent: (resource) => bookmarks.filter((r) => sameResource(r, resource)).length,
    openWatches: (resource) => [...watches].filter((w) => sameResource(w.resource, resource)).length,
    cutWatches() {
      const n = watches.size;
      for (const w of [...watches]) w.close(true);
      return n;
    },
    closeWatches() {
      const n = watches.size;
      for (const w of [...watches]) w.close(false);
      return n;
    },
    compact: () => store.compact(),
    pauseWatches() {
      paused = true;
      for (const w of watches) w.stalled = true;
    },
    resumeWatches() {
      paused = false;
    },
    holdLists(resource) {
      let open: () => void = () => undefined;
      const gate = new Promise<void>((r) => {
        open = r;
      });
      const hold = {
        resource,
        gate,
        release: () => {
          const i = holds.indexOf(hold);
          if (i >= 0) holds.splice(i, 1);
          open();
        },
      };
      holds.push(hold);
      return hold.release;
    },
    injectFault(fault) {
      faults.push({ fault, left: fault.count ?? 1 });
    },
    hungRequests: () => ({ open: hung.open.size, closed: hung.closed }),
    async writeKubeconfig(dir, fileName = 'kubeconfig') {
      const path = join(dir, fileName);
      // client-node 2.x refuses http:// servers unless insecure-skip-tls-verify is set (config.js createAgent).
      await writeFile(
        path,
        [
          'apiVersion: v1',
          'kind: Config',
          'current-context: fake',
          'preferences: {}',
          'clusters:',
          `- name: fake`,
          `  cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
          'users:',
          '- name: fake',
          '  user: { token: fake-token }',
          'contexts:',
          '- name: fake',
          '  context: { cluster: fake, user: fake, namespace: default }',
          '',
        ].join('\n'),
      );
      return path;
    },
    async close() {
      for (const h of [...holds]) h.release();
      for (const w of [...watches]) w.close(true);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return api;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new StatusError(413, 'RequestEntityTooLarge', 'the request body is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
