/**
 * Bearer-token verification with jose (SPEC section 5): per-issuer OIDC discovery, a remote
 * JWKS cached by jose and refreshed on an unknown `kid` no more often than a cooldown allows,
 * `iss` from a trusted list, `aud`, `exp`/`nbf` with a small clock tolerance, asymmetric
 * algorithms only. Nothing here is fetched per request: discovery runs once per issuer (retried
 * with backoff after a failure) and jose serves keys from its cache.
 */
import type { Logger } from 'pino';
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';
import { identityFrom } from './identity.ts';
import { idpUnavailable, invalidToken, ProxyDenial } from './errors.ts';
import type { VerifiedIdentity } from './token-cache.ts';

/**
 * Signature algorithms a token may use. Asymmetric only: `none` carries no signature, and HS*
 * with a public JWK as the HMAC secret is the classic algorithm-confusion forgery.
 */
export const ALLOWED_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
]);

/** The fetch the verifier uses for discovery and JWKS; injectable for tests and counting. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Settings and dependencies of {@link createVerifier}. */
export interface VerifierOptions {
  /** Trusted issuers, exactly as they appear in `iss` and in their discovery document. */
  readonly issuers: readonly string[];
  /** Accepted audiences; the token's `aud` must contain one of them. */
  readonly audiences: readonly string[];
  /** Claim path of the groups (see claims.ts). */
  readonly groupsClaim: string;
  /** Leeway for `exp`/`nbf`, in seconds. */
  readonly clockToleranceSec: number;
  /** Minimum time between JWKS refetches triggered by an unknown `kid` (jose `cooldownDuration`). */
  readonly jwksCooldownMs: number;
  /** How long fetched keys are trusted before a refetch (jose `cacheMaxAge`). */
  readonly jwksCacheMaxAgeMs: number;
  /** Timeout for discovery and JWKS requests. */
  readonly fetchTimeoutMs?: number;
  readonly logger: Logger;
  /** Epoch milliseconds; `exp`/`nbf` are judged against it. */
  readonly clock?: () => number;
  readonly fetch?: FetchLike;
  /** A fetch of its own for one issuer's discovery and JWKS (the Kubernetes issuer's credentials). */
  readonly fetchFor?: (issuer: string) => FetchLike | undefined;
  /** Called once per JWKS request, with its outcome (metrics). */
  readonly onJwksFetch?: (issuer: string, outcome: 'ok' | 'error') => void;
}

/** Verifies compact JWTs; throws a {@link ProxyDenial} when a token must be refused. */
export interface Verifier {
  verify(token: string): Promise<VerifiedIdentity>;
}

/** First retry of a failed discovery after 1 s, doubling up to 30 s. */
const DISCOVERY_BACKOFF_MS = { first: 1_000, max: 30_000 };

interface IssuerState {
  jwks?: JWTVerifyGetKey;
  pending?: Promise<JWTVerifyGetKey>;
  failures: number;
  retryAt: number;
  lastError?: string;
}

/** The discovery URL of an issuer (OpenID Connect Discovery 1.0, section 4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** Creates a verifier; no network traffic happens until the first token of an issuer. */
export function createVerifier(options: VerifierOptions): Verifier {
  const { logger, clock = Date.now, fetch: defaultFetch = globalThis.fetch } = options;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
  const trusted = new Set(options.issuers);
  const states = new Map<string, IssuerState>();
  // jose takes mutable arrays; copy the readonly ones once, not on every verification.
  const audience = [...options.audiences];
  const algorithms = [...ALLOWED_ALGORITHMS];

  async function discover(issuer: string): Promise<JWTVerifyGetKey> {
    const fetchImpl = options.fetchFor?.(issuer) ?? defaultFetch;
    const url = discoveryUrl(issuer);
    const res = await fetchImpl(url, { signal: AbortSignal.timeout(fetchTimeoutMs), redirect: 'manual', headers: { accept: 'application/json' } });
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}, expected 200`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 section 4.3: the document's issuer MUST equal the configured one.
    if (doc.issuer !== issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, expected ${JSON.stringify(issuer)}`);
    if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
    const jwksUri = new URL(doc.jwks_uri);
    logger.info({ issuer, jwksUri: jwksUri.href }, 'OIDC discovery done');
    const countingFetch: FetchLike = async (input, init) => {
      try {
        const response = await fetchImpl(input, init);
        options.onJwksFetch?.(issuer, response.status === 200 ? 'ok' : 'error');
        if (response.status !== 200) throw idpUnavailable(`JWKS of ${issuer} answered ${response.status}`);
        return response;
      } catch (err) {
        if (err instanceof ProxyDenial) throw err;
        options.onJwksFetch?.(issuer, 'error');
        throw idpUnavailable(`JWKS of ${issuer} could not be fetched`, err);
      }
    };
    return createRemoteJWKSet(jwksUri, {
      cooldownDuration: options.jwksCooldownMs,
      cacheMaxAge: options.jwksCacheMaxAgeMs,
      timeoutDuration: fetchTimeoutMs,
      [customFetch]: countingFetch,
    });
  }

  async function keysOf(issuer: string): Promise<JWTVerifyGetKey> {
    let state = states.get(issuer);
    if (state === undefined) {
      state = { failures: 0, retryAt: 0 };
      states.set(issuer, state);
    }
    if (state.jwks) return state.jwks;
    if (state.pending) return state.pending;
    if (clock() < state.retryAt) {
      const wait = state.retryAt - clock();
      throw idpUnavailable(`discovery of ${issuer} failed (${state.lastError ?? 'unknown error'}); retrying in ${Math.ceil(wait / 1000)} s`, undefined, wait);
    }
    const s = state;
    s.pending = discover(issuer).then(
      (jwks) => {
        s.jwks = jwks;
        s.failures = 0;
        s.pending = undefined;
        return jwks;
      },
      (err: unknown) => {
        s.failures += 1;
        s.retryAt = clock() + Math.min(DISCOVERY_BACKOFF_MS.first * 2 ** (s.failures - 1), DISCOVERY_BACKOFF_MS.max);
        s.lastError = err instanceof Error ? err.message : String(err);
        s.pending = undefined;
        logger.warn({ issuer, err: s.lastError, failures: s.failures }, 'OIDC discovery failed');
        throw idpUnavailable(`discovery of ${issuer} failed: ${s.lastError}`, err, s.retryAt - clock());
      },
    );
    return s.pending;
  }

  return {
    async verify(token) {
      let alg: unknown;
      let iss: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
        iss = decodeJwt(token).iss;
      } catch (err) {
        throw invalidToken('token is not a well-formed JWT', err);
      }
      // Refuse before any key lookup, so forged tokens cannot make the proxy fetch anything.
      if (typeof alg !== 'string' || !ALLOWED_ALGORITHMS.includes(alg)) {
        throw invalidToken(`algorithm ${JSON.stringify(alg)} is not allowed`);
      }
      if (typeof iss !== 'string' || !trusted.has(iss)) {
        throw invalidToken(`issuer ${JSON.stringify(iss)} is not trusted`);
      }
      const keys = await keysOf(iss);
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: iss,
          audience,
          algorithms,
          clockTolerance: options.clockToleranceSec,
          currentDate: new Date(clock()),
          requiredClaims: ['exp', 'sub'],
        });
        const identity = identityFrom(payload, options.groupsClaim);
        if (!identity.ok) throw invalidToken(identity.reason);
        return { issuer: iss, subject: identity.subject, groups: identity.groups, headers: identity.headers, expiresAt: (payload.exp as number) * 1000 };
      } catch (err) {
        throw toDenial(err);
      }
    },
  };
}

/** Maps jose's errors to what the caller is told; key-fetch failures stay 503. */
function toDenial(err: unknown): ProxyDenial {
  if (err instanceof ProxyDenial) return err;
  if (err instanceof errors.JWTExpired) return invalidToken('token expired', err);
  if (err instanceof errors.JWTClaimValidationFailed) return invalidToken(err.message, err); // e.g. 'unexpected "aud" claim value'
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalidToken('signature verification failed', err);
  if (err instanceof errors.JWKSNoMatchingKey) return invalidToken('no key of the issuer matches the token (kid)', err);
  if (err instanceof errors.JWKSTimeout) return idpUnavailable('JWKS request timed out', err);
  if (err instanceof errors.JOSEAlgNotAllowed) return invalidToken('algorithm not allowed', err);
  if (err instanceof errors.JOSEError) return invalidToken('token is invalid', err);
  return idpUnavailable('token could not be verified', err);
}
