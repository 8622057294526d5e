/**
 * Which requests skip authentication (SPEC section 5), and the request path as logs show it.
 */

/** The path of a request target, without its query: what logs and path matching see. */
export function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  // Query strings carry secrets (`?access_token=…`, RFC 6750 section 2.3) and never reach a log.
  return q === -1 ? u : u.slice(0, q);
}

/**
 * Whether a request is forwarded without a token: its path is exactly a skip path, and it only
 * reads (`GET`/`HEAD`) without asking to switch protocols. A probe needs nothing more; a write or
 * a WebSocket on `/healthz` to an app that serves every path would be an open door
 * (oauth2-proxy's `--skip-auth-route` likewise takes a method; Envoy's health check filter
 * answers only the probe). Paths are compared byte for byte: `/healthz/` and `/healthz/../x`
 * are not `/healthz`, and go through authentication like any other path.
 */
export function skipsAuthentication(skipPaths: ReadonlySet<string>, method: string | undefined, path: string, upgrade: boolean): boolean {
  return (method === 'GET' || method === 'HEAD') && !upgrade && skipPaths.has(path);
}
