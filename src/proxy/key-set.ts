/**
 * One issuer's signing keys, cached, refreshed and backed off (docs/design.md#refusals-and-outages:
 * identity-provider trouble degrades gracefully).
 *
 * jose's createRemoteJWKSet fetches again on every lookup while it holds no keys, and once its
 * cacheMaxAge has passed it drops the keys it has for the next fetch, failed or not: with the
 * JWKS endpoint answering 500, every request naming the issuer became a fetch, and valid tokens
 * got 503 as soon as the keys aged out. This cache keeps jose's key matching
 * (createLocalJWKSet) and does the fetching itself, on one rule: a fetch starts only when
 * {@link planLookup} or {@link mayRefetchForUnknownKid} says so, which no sequence of requests
 * can turn into more than one fetch per backoff step or cooldown.
 *
 * The decisions are pure functions of the state and the clock; {@link createKeySet} does the I/O.
 */
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { idpUnavailable } from './errors.ts';

/** How keys are refreshed and how long they outlive a failing provider. */
export interface KeySetPolicy {
  /** Minimum time between fetches triggered by an unknown `kid` (jose's `cooldownDuration`). */
  readonly cooldownMs: number;
  /** Keys older than this are refreshed in the background while still in use (jose's `cacheMaxAge`). */
  readonly refreshAfterMs: number;
  /**
   * How long after the last successful fetch the keys stay in use while fetches fail. Past it
   * the issuer's tokens get 503 until a fetch succeeds. See PROXY_DEFAULTS.jwksMaxStaleMs.
   */
  readonly maxStaleMs: number;
  /** The wait after the first failed fetch; it doubles per failure up to `backoffMaxMs`. */
  readonly backoffFirstMs: number;
  readonly backoffMaxMs: number;
}

/** What the decisions need to know about a key set. */
export interface KeySetState {
  /** When the keys now held were fetched; undefined: none yet. */
  readonly fetchedAt: number | undefined;
  /** When the last fetch started (successful or not). */
  readonly lastAttemptAt: number | undefined;
  /** No fetch starts before this (the backoff after failures; 0 when none failed). */
  readonly retryAt: number;
  /** A fetch is in flight. */
  readonly pending: boolean;
}

/** How to serve a key lookup. */
export type KeyPlan =
  | { readonly use: 'keys'; readonly refresh: boolean }
  | { readonly use: 'fetch' }
  | { readonly use: 'unavailable'; readonly retryInMs: number };

/**
 * Serve from the keys held while they are younger than `maxStaleMs` (starting a background
 * refresh once they are older than `refreshAfterMs` and the backoff allows); without usable
 * keys, wait for the fetch in flight or start one if the backoff allows; else unavailable.
 */
export function planLookup(s: KeySetState, now: number, p: KeySetPolicy): KeyPlan {
  const canStart = !s.pending && now >= s.retryAt;
  if (s.fetchedAt !== undefined && now - s.fetchedAt <= p.maxStaleMs) {
    return { use: 'keys', refresh: canStart && now - s.fetchedAt >= p.refreshAfterMs };
  }
  if (s.pending || canStart) return { use: 'fetch' };
  return { use: 'unavailable', retryInMs: s.retryAt - now };
}

/**
 * Whether a token whose `kid` is not among the keys may wait for a fetch: the one in flight,
 * or a new one when neither the backoff nor the cooldown since the last attempt forbids it.
 * Otherwise the token is refused without any traffic (forged kids cost the provider nothing).
 */
export function mayRefetchForUnknownKid(s: KeySetState, now: number, p: KeySetPolicy): boolean {
  if (s.pending) return true;
  return now >= s.retryAt && (s.lastAttemptAt === undefined || now - s.lastAttemptAt >= p.cooldownMs);
}

/** The wait after `failures` consecutive failed fetches. */
export function backoffMs(failures: number, p: KeySetPolicy): number {
  return Math.min(p.backoffFirstMs * 2 ** Math.max(0, failures - 1), p.backoffMaxMs);
}

/** A key set: jose's key-lookup function, plus what the log and the metrics need. */
export interface KeySet {
  readonly getKey: JWTVerifyGetKey;
}

/** What {@link createKeySet} needs. */
export interface KeySetOptions {
  /** The issuer, for messages. */
  readonly issuer: string;
  /** Fetches the issuer's current JWKS (discovery included); rejects on any failure. */
  readonly load: () => Promise<JSONWebKeySet>;
  readonly policy: KeySetPolicy;
  readonly clock: () => number;
  /** Called after each failed fetch (the verifier logs it). */
  readonly onFailure?: (err: unknown, failures: number, retryInMs: number, servingStaleKeys: boolean) => void;
}

/** Creates the key set of one issuer; nothing is fetched until the first lookup. */
export function createKeySet({ issuer, load, policy, clock, onFailure }: KeySetOptions): KeySet {
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt: number | undefined;
  let lastAttemptAt: number | undefined;
  let retryAt = 0;
  let failures = 0;
  let lastError = '';
  let pending: Promise<void> | undefined;
  const state = (): KeySetState => ({ fetchedAt, lastAttemptAt, retryAt, pending: pending !== undefined });

  async function fetchOnce(): Promise<void> {
    lastAttemptAt = clock();
    try {
      const next = createLocalJWKSet(await load()); // throws on a malformed key set
      keys = next;
      fetchedAt = clock();
      failures = 0;
      retryAt = 0;
    } catch (err) {
      failures += 1;
      const wait = backoffMs(failures, policy);
      retryAt = clock() + wait;
      lastError = err instanceof Error ? err.message : String(err);
      const stale = fetchedAt !== undefined && clock() - fetchedAt <= policy.maxStaleMs;
      onFailure?.(err, failures, wait, stale);
      throw idpUnavailable(`keys of ${issuer} could not be fetched: ${lastError}`, err, wait);
    }
  }

  /** The fetch in flight, or a new one: concurrent lookups share it. */
  function refresh(): Promise<void> {
    pending ??= fetchOnce().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    async getKey(header, token) {
      const plan = planLookup(state(), clock(), policy);
      if (plan.use === 'unavailable') {
        throw idpUnavailable(`keys of ${issuer} unavailable after ${failures} failed fetches (${lastError})`, undefined, plan.retryInMs);
      }
      if (plan.use === 'fetch') await refresh();
      else if (plan.refresh) refresh().catch(() => {}); // the failure is recorded and logged; the old keys serve
      try {
        return await keys!(header, token);
      } catch (err) {
        if (!(err instanceof errors.JWKSNoMatchingKey) || !mayRefetchForUnknownKid(state(), clock(), policy)) throw err;
      }
      await refresh();
      return keys!(header, token);
    },
  };
}
