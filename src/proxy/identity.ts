/**
 * The verified identity as the app receives it (docs/design.md#what-the-app-receives): `X-Auth-Subject` and
 * `X-Auth-Groups`, encoded so that no claim value can split, forge or break a header.
 *
 * The encoding: each value (the subject, each group) is taken as UTF-8 and percent-encoded
 * (RFC 3986 section 2.1), leaving only ALPHA, DIGIT and `-._~!*'():@/` as they are;
 * `X-Auth-Groups` joins the encoded groups with `,`. An app reads it with
 * `header.split(',').map(decodeURIComponent)` (an empty header is no groups). So a group
 * `team-a,cluster-admins` arrives as `team-a%2Ccluster-admins` and can never read as two groups,
 * and CR, LF, other control characters and non-ASCII text arrive as `%0D`, `%0A`, `%C3%A9`…,
 * which every HTTP server accepts. Names made of the usual characters (`payments`,
 * `system:serviceaccount:shop:web`, `alice@example.com`, Keycloak's `/team/admins`) read the
 * same encoded or not, so apps that compare plain names keep working.
 *
 * Why not the alternatives: a plain comma list (oauth2-proxy's X-Forwarded-Groups, Envoy's
 * claim_to_headers) splits on a comma inside a group; one header per group (the Kubernetes
 * API server's X-Remote-Group) is merged back into one comma list by most app servers (Node's
 * `req.headers`, WSGI, Rack); a JSON header would change the value of every plain group, and
 * apps that match `payments` in the list would stop working.
 *
 * A token whose identity cannot be put into headers this way is refused with 401, as the
 * Kubernetes API server's OIDC authenticator refuses a non-string username claim: `sub` must
 * be a non-empty string (RFC 7519 section 4.1.2: a StringOrURI), the groups claim a string or
 * an array of strings, every value well-formed Unicode, and each header at most
 * {@link MAX_IDENTITY_HEADER_BYTES}.
 */
import { groupsAt } from './claims.ts';

/** The header carrying the verified `sub`. */
export const SUBJECT_HEADER = 'x-auth-subject';
/** The header carrying the verified groups (see the encoding above). */
export const GROUPS_HEADER = 'x-auth-groups';

/**
 * 4 KiB per identity header: well inside the per-line limits of common app servers (gunicorn's
 * limit_request_field_size 8190, nginx's 8 KiB large_client_header_buffers, Tomcat's 8 KiB
 * maxHttpHeaderSize for the whole block together with the caller's other headers), so an
 * admitted request is never turned away by the app with a 431 because of the proxy's headers.
 */
export const MAX_IDENTITY_HEADER_BYTES = 4096;

/** The identity header values, already encoded, as the proxy sends them upstream. */
export interface IdentityHeaders {
  readonly subject: string;
  readonly groups: string;
}

/** The identity read from a verified payload, or why it cannot be forwarded. */
export type IdentityResult =
  | { readonly ok: true; readonly subject: string; readonly groups: readonly string[]; readonly headers: IdentityHeaders }
  | { readonly ok: false; readonly reason: string };

// encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ); these three are readable too. `+` stays
// encoded, as form decoders read a literal `+` as a space.
const READABLE_ESCAPES = /%(3A|40|2F)/g;
const UNESCAPED: Readonly<Record<string, string>> = { '3A': ':', '40': '@', '2F': '/' };

/** One value in the identity-header encoding; `undefined` for ill-formed Unicode (lone surrogates). */
export function encodeIdentityValue(value: string): string | undefined {
  // encodeURIComponent throws URIError on a lone surrogate; ask first instead of catching.
  if (!value.isWellFormed()) return undefined;
  return encodeURIComponent(value).replace(READABLE_ESCAPES, (_m, hex: string) => UNESCAPED[hex]!);
}

/** Decodes `X-Auth-Groups` as an app should (exported for tests and as the reference reader). */
export function decodeGroupsHeader(header: string): string[] {
  return header === '' ? [] : header.split(',').map(decodeURIComponent);
}

/** The identity of a verified JWT payload, with its encoded headers, or the reason to refuse it. */
export function identityFrom(payload: Readonly<Record<string, unknown>>, groupsClaim: string): IdentityResult {
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub === '') return { ok: false, reason: 'the sub claim must be a non-empty string' };
  const groups = groupsAt(payload, groupsClaim);
  if (groups === undefined) return { ok: false, reason: 'the groups claim must be a string or an array of strings' };
  const subject = encodeIdentityValue(sub);
  const encoded: string[] = [];
  for (const g of groups) {
    const e = encodeIdentityValue(g);
    if (e === undefined) return { ok: false, reason: 'a group is not well-formed Unicode' };
    encoded.push(e);
  }
  if (subject === undefined) return { ok: false, reason: 'the sub claim is not well-formed Unicode' };
  const joined = encoded.join(',');
  // Encoded values are ASCII: length is the byte count.
  if (subject.length > MAX_IDENTITY_HEADER_BYTES || joined.length > MAX_IDENTITY_HEADER_BYTES) {
    return { ok: false, reason: `the identity does not fit in ${MAX_IDENTITY_HEADER_BYTES}-byte headers` };
  }
  return { ok: true, subject: sub, groups, headers: Object.freeze({ subject, groups: joined }) };
}
