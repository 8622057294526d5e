/**
 * Why the proxy refuses a request: one catalogue of stable codes (like fastify's FST_ERR_*),
 * each with the HTTP status and the RFC 6750 error it maps to.
 *
 * What a refused caller is told is fixed and short: a message from a closed set, never a value
 * taken from the token or the request (a 6 KB `iss`, a CRLF in `alg`), so the answer can neither
 * be used to reflect attacker input nor fail to be written as a header. What an operator needs
 * to act (which issuer was untrusted, why the identity provider failed) goes to the log only,
 * as `detail`, bounded by {@link logDetail}.
 */

/** Stable codes that appear in the JSON body and the decision log line. */
export type DenyCode =
  | 'IDGATE_PROXY_NO_TOKEN'
  | 'IDGATE_PROXY_BAD_REQUEST'
  | 'IDGATE_PROXY_INVALID_TOKEN'
  | 'IDGATE_PROXY_FORBIDDEN'
  | 'IDGATE_PROXY_IDP_UNAVAILABLE';

/** A refusal of the request before it reaches the upstream. */
export class ProxyDenial extends Error {
  readonly code: DenyCode;
  readonly status: 400 | 401 | 403 | 503;
  /** For 503: when the proxy will try the identity provider again (the `Retry-After` header). */
  readonly retryAfterSeconds: number | undefined;
  /** For the log only, never the answer: what an operator needs to act on the refusal. */
  readonly detail: string | undefined;
  constructor(code: DenyCode, status: 400 | 401 | 403 | 503, message: string, options?: { cause?: unknown; retryAfterSeconds?: number; detail?: string }) {
    super(message, options);
    this.name = 'ProxyDenial';
    this.code = code;
    this.status = status;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.detail = options?.detail;
  }
}

/** Log lines carry at most this much of a value that came from a caller (a 6 KB `iss`). */
const MAX_DETAIL_CHARS = 200;

/** A caller-supplied value as a log detail: JSON-quoted (so CR/LF stay escaped) and truncated. */
export function logDetail(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > MAX_DETAIL_CHARS ? `${s.slice(0, MAX_DETAIL_CHARS)}… (${s.length} chars)` : s;
}

/**
 * The token could not be verified (signature, issuer, audience, expiry, algorithm, format).
 * `message` must be one of the fixed texts of the verifier, never built from the token.
 */
export function invalidToken(message: string, cause?: unknown, detail?: string): ProxyDenial {
  return new ProxyDenial('IDGATE_PROXY_INVALID_TOKEN', 401, message, { cause, ...(detail === undefined ? {} : { detail }) });
}

/**
 * The issuer's discovery document or JWKS could not be fetched. Not the caller's fault, so 503
 * rather than 401: a 401 would make well-behaved clients throw away a good token. The caller
 * is told only that; `detail` (which issuer, what failed) is logged.
 */
export function idpUnavailable(detail: string, cause?: unknown, retryAfterMs = 1000): ProxyDenial {
  return new ProxyDenial('IDGATE_PROXY_IDP_UNAVAILABLE', 503, 'the identity provider is unavailable, retry later', {
    cause,
    detail,
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
  });
}

/** The realm named in every `WWW-Authenticate` challenge. */
export const REALM = 'idgate';

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The `WWW-Authenticate` challenge for a denial (RFC 6750 section 3): no error code when no
 * token was sent (section 3.1), `invalid_token` for a bad token, `insufficient_scope` for 403.
 */
export function challengeFor(denial: ProxyDenial): string | undefined {
  switch (denial.code) {
    case 'IDGATE_PROXY_NO_TOKEN':
      return `Bearer realm=${quote(REALM)}`;
    case 'IDGATE_PROXY_BAD_REQUEST':
      return `Bearer realm=${quote(REALM)}, error="invalid_request", error_description=${quote(denial.message)}`;
    case 'IDGATE_PROXY_INVALID_TOKEN':
      return `Bearer realm=${quote(REALM)}, error="invalid_token", error_description=${quote(denial.message)}`;
    case 'IDGATE_PROXY_FORBIDDEN':
      return `Bearer realm=${quote(REALM)}, error="insufficient_scope", error_description=${quote(denial.message)}`;
    case 'IDGATE_PROXY_IDP_UNAVAILABLE':
      return undefined;
  }
}

/** The RFC 6750 / proxy error name of each code, the `error` field of the body. */
const ERROR_NAME: Readonly<Record<DenyCode, string>> = Object.freeze({
  IDGATE_PROXY_NO_TOKEN: 'unauthorized',
  IDGATE_PROXY_BAD_REQUEST: 'invalid_request',
  IDGATE_PROXY_INVALID_TOKEN: 'invalid_token',
  IDGATE_PROXY_FORBIDDEN: 'insufficient_scope',
  IDGATE_PROXY_IDP_UNAVAILABLE: 'temporarily_unavailable',
});

/** The JSON error body: `{ error, code, message }`, `error` being the RFC 6750 / proxy error name. */
export function denialBody(denial: ProxyDenial): string {
  return JSON.stringify({ error: ERROR_NAME[denial.code], code: denial.code, message: denial.message });
}
