/**
 * The API server's own words for a failure: the `message` of its Status body. client-node 2.x
 * puts the raw body (a JSON string) in ApiException.body and only "HTTP-Code: 403" in its
 * message, so an admission webhook's denial or an RBAC refusal would otherwise be lost.
 */

/** The `message` of a Status body (an object or its JSON text), if it has a non-empty one. */
export function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const message = (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' && message !== '' ? message : undefined;
}
