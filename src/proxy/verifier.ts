/**
 * Bearer-token verification with jose (docs/design.md#verification): `alg` from an asymmetric allow-list and
 * `iss` from the trusted list checked before any key lookup, then the signature against the
 * issuer's keys (key-set.ts: cached, refreshed on an unknown `kid` at most once per cooldown,
 * backed off while the provider fails, last-good keys kept for a bounded time), `aud`,
 * `exp`/`nbf` with a small clock tolerance, and an identity the proxy can forward (identity.ts).
 * Every refusal is a {@link ProxyDenial} with a fixed message; anything from the token goes to
 * `detail`, for the log only.
 */
import type { Logger } from 'pino';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { idpUnavailable, invalidToken, logDetail, ProxyDenial } from './errors.ts';
import { identityFrom } from './identity.ts';
import { createKeySet, type KeySet, type KeySetPolicy } from './key-set.ts';
import { createJwksLoader, type FetchLike } from './oidc-fetch.ts';
import type { VerifiedIdentity } from './token-cache.ts';

export { discoveryUrl, type FetchLike } from './oidc-fetch.ts';

/**
 * Signature algorithms a token may use. Asymmetric only: `none` carries no signature, and HS*
 * with a public JWK as the HMAC secret is the classic algorithm-confusion forgery.
 */
export const ALLOWED_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

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
  /** Minimum time between JWKS refetches triggered by an unknown `kid`. */
  readonly jwksCooldownMs: number;
  /** Keys older than this are refreshed (in the background, while still in use). */
  readonly jwksCacheMaxAgeMs: number;
  /** How long the last good keys stay in use while the provider fails (key-set.ts). */
  readonly jwksMaxStaleMs: number;
  /** Timeout for discovery and JWKS requests. */
  readonly fetchTimeoutMs?: number;
  readonly logger: Logger;
  /** Epoch milliseconds; `exp`/`nbf` and the key cache are judged against it. */
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

/**
 * After a failed fetch (discovery or JWKS) the next one waits 1 s, doubling up to 30 s: a
 * provider that is down sees at most one request per 30 s from each proxy, however many
 * requests arrive (Envoy's jwt_authn retries a failed JWKS fetch after a fixed 1 s; go-oidc, in
 * the Kubernetes API server and oauth2-proxy, refetches on every unknown kid).
 */
const BACKOFF_MS = { first: 1_000, max: 30_000 };

/** Creates a verifier; no network traffic happens until the first token of an issuer. */
export function createVerifier(options: VerifierOptions): Verifier {
  return new JoseVerifier(options);
}

/**
 * The token's issuer, once its header and claims decode and its `alg` and `iss` are allowed.
 * Checked before any key lookup, so forged tokens cannot make the proxy fetch anything.
 */
function trustedIssuer(token: string, trusted: ReadonlySet<string>): string {
  let alg: unknown;
  let iss: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
    iss = decodeJwt(token).iss;
  } catch {
    throw invalidToken('token is not a well-formed JWT');
  }
  if (typeof alg !== 'string' || !ALLOWED_ALGORITHMS.includes(alg)) {
    throw invalidToken("the token's algorithm is not allowed", undefined, `alg ${logDetail(alg)}`);
  }
  if (typeof iss !== 'string' || !trusted.has(iss)) {
    throw invalidToken("the token's issuer is not trusted", undefined, `iss ${logDetail(iss)}`);
  }
  return iss;
}

class JoseVerifier implements Verifier {
  readonly #options: VerifierOptions;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #fetch: FetchLike;
  readonly #trusted: ReadonlySet<string>;
  readonly #keySets = new Map<string, KeySet>();
  // jose takes mutable arrays; copy the readonly ones once, not on every verification.
  readonly #audience: string[];
  readonly #algorithms = [...ALLOWED_ALGORITHMS];
  readonly #policy: KeySetPolicy;

  constructor(options: VerifierOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#trusted = new Set(options.issuers);
    this.#audience = [...options.audiences];
    this.#policy = {
      cooldownMs: options.jwksCooldownMs,
      refreshAfterMs: options.jwksCacheMaxAgeMs,
      maxStaleMs: options.jwksMaxStaleMs,
      backoffFirstMs: BACKOFF_MS.first,
      backoffMaxMs: BACKOFF_MS.max,
    };
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    const iss = trustedIssuer(token, this.#trusted);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#keySetOf(iss).getKey, {
        issuer: iss,
        audience: this.#audience,
        algorithms: this.#algorithms,
        clockTolerance: this.#options.clockToleranceSec,
        currentDate: new Date(this.#clock()),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw toDenial(err);
    }
    const identity = identityFrom(payload, this.#options.groupsClaim);
    if (!identity.ok) throw invalidToken(identity.reason);
    return { issuer: iss, subject: identity.subject, groups: identity.groups, headers: identity.headers, expiresAt: (payload.exp as number) * 1000 };
  }

  #keySetOf(issuer: string): KeySet {
    let keySet = this.#keySets.get(issuer);
    if (keySet === undefined) {
      keySet = this.#createKeySet(issuer);
      this.#keySets.set(issuer, keySet);
    }
    return keySet;
  }

  #createKeySet(issuer: string): KeySet {
    const options = this.#options;
    const logger = this.#logger;
    const load = createJwksLoader({
      issuer,
      fetch: options.fetchFor?.(issuer) ?? this.#fetch,
      timeoutMs: options.fetchTimeoutMs ?? 5_000,
      logger,
      onJwksFetch: (outcome) => options.onJwksFetch?.(issuer, outcome),
    });
    return createKeySet({
      issuer,
      load,
      policy: this.#policy,
      clock: this.#clock,
      onFailure: (err, failures, retryInMs, servingStaleKeys) =>
        logger.warn(
          {
            issuer,
            err: err instanceof Error ? err.message : String(err),
            failures,
            retryInMs,
            servingStaleKeys,
          },
          servingStaleKeys ? "fetching the issuer's keys failed; the last good keys stay in use" : "fetching the issuer's keys failed",
        ),
    });
  }
}

/**
 * Maps what jwtVerify throws to what the caller is told, in fixed words. Key-fetch failures
 * stay 503 (the provider's fault); everything else, including an error this code did not
 * foresee, is the token's problem: 401, never a 500.
 */
function toDenial(err: unknown): ProxyDenial {
  if (err instanceof ProxyDenial) return err;
  if (err instanceof errors.JWTExpired) return invalidToken('token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    // jose names the claim from its own fixed list (iss, aud, exp, nbf, iat, sub, typ…).
    return invalidToken(err.reason === 'missing' ? `the "${err.claim}" claim is missing` : `the "${err.claim}" claim check failed`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalidToken('signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return invalidToken('no key of the issuer matches the token (kid)');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return invalidToken('the token does not say which key of the issuer signed it (kid)');
  if (err instanceof errors.JWKSTimeout) return idpUnavailable('JWKS request timed out', err);
  if (err instanceof errors.JOSEAlgNotAllowed) return invalidToken("the token's algorithm is not allowed");
  if (err instanceof errors.JOSEError) return invalidToken('token is invalid', undefined, err.code);
  return invalidToken('token is invalid', undefined, err instanceof Error ? `${err.name}: ${err.message}` : logDetail(err));
}
