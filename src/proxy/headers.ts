/**
 * Header rewriting between the caller, the proxy and the upstream (docs/design.md#what-the-app-receives:
 * what the app sees is the proxy's word only).
 *
 * Hop-by-hop headers (RFC 9110 section 7.6.1: Connection and every header it names, plus the
 * historical Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) describe one
 * connection and are not forwarded. Then every caller header an app server could read as an
 * identity is removed, whatever its case and however many copies were sent (we work on
 * rawHeaders, which keeps every copy):
 * - any header whose name is not letters, digits and hyphens, as nginx drops them by default
 *   (`ignore_invalid_headers on`, `underscores_in_headers off`; Envoy's
 *   `headers_with_underscores_action: DROP_HEADER`). CGI, WSGI, Rack and PHP turn both `-` and
 *   `_` into `_` (`X_Auth_Subject` and `X-Auth-Subject` are both HTTP_X_AUTH_SUBJECT: Puma's
 *   CVE-2024-45614), so such a name can shadow any header the app trusts, listed here or not;
 * - the identity headers of this proxy and of the proxies and platforms an app may have been
 *   written for (see {@link isIdentityHeader});
 * - `Forwarded` and every `X-Forwarded-*`: the proxy sets its own (see {@link upstreamHeaders}).
 * Trailers are never forwarded at all: the body is piped, and node keeps the caller's trailers
 * in `req.rawTrailers`, which nothing here reads.
 */
import { GROUPS_HEADER, SUBJECT_HEADER, type IdentityHeaders } from './identity.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Names (lower case) an app may read as who the caller is, or as where the request came from. */
const IDENTITY_NAMES = new Set([
  'forwarded', // RFC 7239
  'remote-user',
  'x-user',
  'x-username',
  'x-email',
  'x-userinfo',
  'x-access-token',
  'x-id-token',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  // Path overrides honoured by some frameworks (Symfony, IIS): a skip path must not become another path.
  'x-original-url',
  'x-rewrite-url',
]);
const IDENTITY_PREFIXES = [
  'x-auth-', // ours, and oauth2-proxy's X-Auth-Request-User/-Email/-Groups
  'x-forwarded-', // X-Forwarded-For/-Host/-Proto, and oauth2-proxy's X-Forwarded-User/-Email/-Groups
  'x-remote-', // the Kubernetes API server's requestheader authentication (X-Remote-User/-Group/-Extra-)
  'impersonate-', // Kubernetes impersonation, for apps that proxy to the API server
  'x-amzn-oidc-', // AWS ALB authentication
  'x-goog-authenticated-user-', // Google IAP
  'x-ms-client-principal', // Azure App Service authentication
  'cf-access-', // Cloudflare Access
  'x-authenticated-',
  'x-consumer-',
  'x-credential-', // Kong
  'x-ssl-client-',
  'ssl-client-',
  'x-client-cert',
  'x-client-dn',
  'x-client-verify', // client certificates passed as headers
];

/** Whether a (lower-case) header name is one an app could read as an identity or origin. */
export function isIdentityHeader(name: string): boolean {
  return IDENTITY_NAMES.has(name) || IDENTITY_PREFIXES.some((p) => name.startsWith(p));
}

/** Header names made only of letters, digits and hyphens (RFC 9110 allows more; apps collapse them). */
const PLAIN_NAME = /^[A-Za-z0-9-]+$/;

/** Header names (lower case) listed in the Connection header(s) of a raw header list. */
function connectionTokens(raw: readonly string[]): Set<string> {
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    // The length first: no lower-case copy of every other header's name.
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') named.add(name);
    }
  }
  return named;
}

/** Whether a (lower-case) header name is hop-by-hop. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-');
}

/** Outgoing headers as node:http accepts them: lower-case names, repeated headers as arrays. */
export type OutgoingHeaders = Record<string, string | string[]>;

function append(out: OutgoingHeaders, name: string, value: string): void {
  const prev = out[name];
  if (prev === undefined) out[name] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[name] = [prev, value];
}

/**
 * The verdicts of {@link forwardableName} by name as sent: a request's dozen header names would
 * otherwise each pay a lower-case copy, a regular expression and some twenty prefix checks on
 * every request (about 10 µs for a browser's headers). Bounded, as names are the caller's choice:
 * past the bound a name is judged afresh each time.
 */
const verdicts = new Map<string, string | null>();
const MAX_VERDICTS = 1024;

/**
 * A caller's header name in lower case if it may be forwarded whatever the request, or null if
 * it never is (hop-by-hop, Expect, not plain, an identity or forwarding header). Headers named
 * in Connection and Authorization depend on the request and are left to the caller.
 */
function forwardableName(rawName: string): string | null {
  let verdict = verdicts.get(rawName);
  if (verdict !== undefined) return verdict;
  const name = rawName.toLowerCase();
  verdict = isHopByHop(name) || name === 'expect' || !PLAIN_NAME.test(rawName) || isIdentityHeader(name) ? null : name;
  if (verdicts.size < MAX_VERDICTS) verdicts.set(rawName, verdict);
  return verdict;
}

/** How {@link upstreamHeaders} rewrites a request's headers. */
export interface UpstreamHeaderOptions {
  /** Verified identity to announce, encoded; undefined on skip paths (the headers are still stripped). */
  readonly identity?: IdentityHeaders;
  /** Pass the caller's Authorization header on (`--pass-authorization`); dropped by default. */
  readonly passAuthorization: boolean;
  /** For a WebSocket/upgrade request: keep `Connection: upgrade` and `Upgrade`. */
  readonly upgrade?: string;
  /** The caller's TCP peer address: the only X-Forwarded-For the app gets. */
  readonly remoteAddress?: string;
}

/** `::ffff:10.1.2.3` (an IPv4 peer on a dual-stack socket) as `10.1.2.3`, as apps expect. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The headers to send upstream for a caller's raw header list: hop-by-hop, non-plain-named,
 * identity and forwarding headers removed, Authorization removed unless asked for, Expect
 * removed (node's server already answered `100-continue`); then the proxy's own headers.
 *
 * The proxy's forwarding headers are those Envoy sets at the edge (`use_remote_address: true`)
 * and oauth2-proxy passes on: X-Forwarded-For is the TCP peer alone, as nothing in front of the
 * sidecar is trusted to have told the truth about earlier hops; X-Forwarded-Proto is `http`
 * (the sidecar serves plain HTTP); X-Forwarded-Host is the caller's Host. `Forwarded` is not
 * set: apps read either family, and one that agrees with itself is enough.
 */
export function upstreamHeaders(raw: readonly string[], opts: UpstreamHeaderOptions): OutgoingHeaders {
  const named = connectionTokens(raw);
  const out: OutgoingHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = forwardableName(raw[i]!);
    if (name === null || named.has(name)) continue;
    if (name === 'authorization' && !opts.passAuthorization) continue;
    append(out, name, raw[i + 1]!);
  }
  if (opts.remoteAddress !== undefined) out['x-forwarded-for'] = plainAddress(opts.remoteAddress);
  out['x-forwarded-proto'] = 'http';
  const host = out.host;
  if (typeof host === 'string') out['x-forwarded-host'] = host;
  if (opts.upgrade !== undefined) {
    out.connection = 'upgrade';
    out.upgrade = opts.upgrade;
  }
  if (opts.identity) {
    out[SUBJECT_HEADER] = opts.identity.subject;
    out[GROUPS_HEADER] = opts.identity.groups;
  }
  return out;
}

/**
 * The upstream's response headers as a flat raw list for `writeHead` (keeps the upstream's
 * spelling and every Set-Cookie), minus hop-by-hop headers. Node re-frames the body itself.
 */
export function downstreamHeaders(raw: readonly string[], opts: { upgrade?: boolean } = {}): string[] {
  const named = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    // A 101 must still say what the connection switched to.
    const kept = opts.upgrade === true && (name === 'connection' || name === 'upgrade');
    if (!kept && (isHopByHop(name) || named.has(name))) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
