/**
 * Which requests are answered without a token (docs/design.md#sidecar-proxy), and the request path as logs
 * show it.
 */

/** The path of a request target, without its query: what logs and path matching see. */
export function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  // Query strings carry secrets (`?access_token=…`, RFC 6750 section 2.3) and never reach a log.
  return q === -1 ? u : u.slice(0, q);
}

/**
 * A request a probe or scraper makes: `GET`/`HEAD` without an upgrade and without a body (a
 * body on a GET is still a way to hand the app data unauthenticated). Only these are answered
 * without a token, by the app on a skip path or by the proxy's own `/healthz` and `/metrics`.
 * A probe needs nothing more; a write or a WebSocket on `/healthz` to an app that serves every
 * path would be an open door (oauth2-proxy's `--skip-auth-route` likewise takes a method;
 * Envoy's health check filter answers only the probe). Skip paths are then compared byte for
 * byte: `/healthz/`, `/HEALTHZ` and `/healthz/../x` are not `/healthz`, and are authenticated
 * like any other path.
 */
export function isProbe(
  method: string | undefined,
  headers: { readonly upgrade?: string; readonly 'content-length'?: string; readonly 'transfer-encoding'?: string },
): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const body = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  return headers.upgrade === undefined && !body;
}
