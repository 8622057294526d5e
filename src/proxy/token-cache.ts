/**
 * The verified-token cache (docs/design.md#sidecar-proxy): repeated requests with the same bearer token skip
 * signature verification. Keyed by the SHA-256 of the token so tokens never sit in memory as
 * map keys (a heap dump shows hashes, not credentials), held no longer than the token's `exp`,
 * bounded by a maximum entry count with least-recently-used eviction.
 */
import { hash } from 'node:crypto';
import type { IdentityHeaders } from './identity.ts';

/** What the proxy needs from a verified token; the same shape the verifier returns. */
export interface VerifiedIdentity {
  readonly issuer: string;
  readonly subject: string;
  readonly groups: readonly string[];
  /** `subject` and `groups` encoded for the upstream (identity.ts). */
  readonly headers: IdentityHeaders;
  /** The token's `exp`, in epoch milliseconds. */
  readonly expiresAt: number;
}

/** A bounded cache of verified identities keyed by token hash. */
export interface TokenCache {
  /** The identity for `token`, if verified before and not yet expired by `clock`. */
  get(token: string): VerifiedIdentity | undefined;
  /** Remember a verified identity until its `expiresAt`. */
  set(token: string, identity: VerifiedIdentity): void;
  /** Entries currently held (expired ones are dropped lazily). */
  readonly size: number;
}

/** Settings of {@link createTokenCache}. */
export interface TokenCacheOptions {
  /** Upper bound on entries; the least recently used one is evicted beyond it. 0 disables caching. */
  readonly maxEntries: number;
  /** Epoch milliseconds; injectable so tests can expire entries without waiting. */
  readonly clock?: () => number;
}

/** The cache key: base64url SHA-256 of the compact JWT. */
export function tokenKey(token: string): string {
  // The one-shot hash: no Hash object and three calls into C++ per request, as createHash() takes.
  return hash('sha256', token, 'base64url');
}

/** A cache backed by a Map, whose insertion order doubles as the recency order. */
export function createTokenCache({ maxEntries, clock = Date.now }: TokenCacheOptions): TokenCache {
  const entries = new Map<string, VerifiedIdentity>();
  // The key at the most recently used end. A sidecar mostly sees the same caller's token again
  // and again; moving the newest entry to where it already is would cost a Map delete and set per
  // request (and a rehash of the Map every few requests, from the deleted slots).
  let newest: string | undefined;
  return {
    get(token) {
      if (maxEntries === 0) return undefined;
      const key = tokenKey(token);
      const hit = entries.get(key);
      if (hit === undefined) return undefined;
      if (hit.expiresAt <= clock()) {
        entries.delete(key);
        if (key === newest) newest = undefined;
        return undefined;
      }
      if (key !== newest) {
        entries.delete(key);
        entries.set(key, hit); // move to the most recently used end
        newest = key;
      }
      return hit;
    },
    set(token, identity) {
      if (maxEntries === 0 || identity.expiresAt <= clock()) return;
      const key = tokenKey(token);
      entries.delete(key);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
      entries.set(key, identity);
      newest = key;
    },
    get size() {
      return entries.size;
    },
  };
}
