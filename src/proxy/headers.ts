/**
 * Header rewriting between the caller, the proxy and the upstream.
 *
 * Hop-by-hop headers (RFC 9110 section 7.6.1: Connection and every header it names, plus the
 * historical Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) describe one
 * connection and must not be forwarded. The identity headers are the proxy's to set: a caller
 * that sends its own X-Auth-Subject must never reach the upstream with it, whatever its case
 * and however many copies it sends — so we work on rawHeaders, which keeps every copy.
 */

/** The header carrying the verified `sub`. */
export const SUBJECT_HEADER = 'x-auth-subject';
/** The header carrying the verified groups, comma-separated. */
export const GROUPS_HEADER = 'x-auth-groups';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Header names (lower case) listed in the Connection header(s) of a raw header list. */
function connectionTokens(raw: readonly string[]): Set<string> {
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
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

/** How {@link upstreamHeaders} rewrites a request's headers. */
export interface UpstreamHeaderOptions {
  /** Verified identity to announce; undefined on skip paths (the headers are still stripped). */
  readonly identity?: { readonly subject: string; readonly groups: readonly string[] };
  /** Drop the caller's Authorization header instead of passing the token on. */
  readonly stripAuthorization: boolean;
  /** For a WebSocket/upgrade request: keep `Connection: upgrade` and `Upgrade`. */
  readonly upgrade?: string;
  /** The caller's address, appended to X-Forwarded-For. */
  readonly remoteAddress?: string;
}

/**
 * The headers to send upstream for a caller's raw header list: hop-by-hop and identity headers
 * removed, Expect removed (node's server already answered `100-continue`), the identity set.
 */
export function upstreamHeaders(raw: readonly string[], opts: UpstreamHeaderOptions): OutgoingHeaders {
  const named = connectionTokens(raw);
  const out: OutgoingHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (isHopByHop(name) || named.has(name)) continue;
    if (name === SUBJECT_HEADER || name === GROUPS_HEADER || name === 'expect') continue;
    if (name === 'authorization' && opts.stripAuthorization) continue;
    append(out, name, raw[i + 1]!);
  }
  if (opts.remoteAddress !== undefined) {
    const prior = out['x-forwarded-for'];
    const chain = prior === undefined ? [] : Array.isArray(prior) ? prior : [prior];
    out['x-forwarded-for'] = [...chain, opts.remoteAddress].join(', ');
  }
  if (opts.upgrade !== undefined) {
    out.connection = 'upgrade';
    out.upgrade = opts.upgrade;
  }
  if (opts.identity) {
    out[SUBJECT_HEADER] = opts.identity.subject;
    out[GROUPS_HEADER] = opts.identity.groups.join(',');
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
