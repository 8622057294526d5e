/**
 * Reading groups out of a verified JWT payload by a configurable claim path (docs/design.md#verification).
 *
 * Identity providers disagree on where groups live: plain `groups` (Dex, Okta, Kubernetes
 * ServiceAccount tokens carry none), `realm_access.roles` (Keycloak), `cognito:groups` (AWS
 * Cognito, where the colon is part of the key) and namespaced URL claims such as
 * `https://example.com/groups` (Auth0, where the dots are part of the key). Dots separate path
 * segments, but a key that literally contains the remaining path (or a dotted prefix of it) wins,
 * so all of these work without an escaping syntax.
 */

/** The default claim path (`--groups-claim`). */
export const DEFAULT_GROUPS_CLAIM = 'groups';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The value at `path` in `payload`, or `undefined` when the path does not resolve.
 * A literal key equal to the whole remaining path is preferred; otherwise the shortest dotted
 * prefix that names an object is descended into, and the next longer prefix tried on failure.
 */
export function claimAt(payload: unknown, path: string): unknown {
  if (!isRecord(payload) || path === '') return undefined;
  if (Object.hasOwn(payload, path)) return payload[path];
  for (let dot = path.indexOf('.'); dot !== -1; dot = path.indexOf('.', dot + 1)) {
    const head = path.slice(0, dot);
    if (!Object.hasOwn(payload, head)) continue;
    const found = claimAt(payload[head], path.slice(dot + 1));
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The groups named by the claim at `path`: an array of strings (empty strings dropped), or a
 * single string (some providers emit one group that way); a missing or `null` claim is no
 * groups. Anything else (a number, an object, an array holding a non-string) is `undefined`:
 * the token's groups cannot be known, and the caller refuses it, as the Kubernetes API
 * server's OIDC authenticator refuses a groups claim that is not a string or a string array.
 */
export function groupsAt(payload: unknown, path: string): string[] | undefined {
  const value = claimAt(payload, path);
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value) || !value.every((g) => typeof g === 'string')) return undefined;
  return (value as string[]).filter((g) => g !== '');
}

/** Whether `groups` meet the allow-list: any one allowed group suffices; an empty list allows all. */
export function groupsAllowed(groups: readonly string[], allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  // Runs on every request: a linear scan of the few allowed groups beats building a Set per call.
  return allowed.some((g) => groups.includes(g));
}
