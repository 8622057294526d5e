/**
 * The proxy's Prometheus metrics, registered on a Registry passed in (never prom-client's global
 * default registry, so tests and several proxies in one process do not collide).
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Decisions a request can end in (the `decision` label). */
export type DecisionLabel = 'allowed' | 'skipped' | 'unauthorized' | 'forbidden' | 'bad_request' | 'unavailable';

/** The proxy's metrics, one field per Prometheus metric (names in {@link createProxyMetrics}). */
export interface ProxyMetrics {
  readonly requests: Counter<'decision'>;
  readonly verifyDuration: Histogram<'result'>;
  readonly upstreamErrors: Counter<'reason'>;
  readonly jwksFetches: Counter<'issuer' | 'outcome'>;
  readonly tokenCache: Counter<'result'>;
}

/** Creates and registers the proxy metrics on `registry`. */
export function createProxyMetrics(registry: Registry): ProxyMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'idgate_proxy_requests_total',
      help: 'Requests by authorization decision',
      labelNames: ['decision'],
      registers,
    }),
    verifyDuration: new Histogram({
      name: 'idgate_proxy_token_verification_seconds',
      help: 'Time to verify a bearer token that was not in the cache (includes a JWKS fetch when one happens)',
      labelNames: ['result'],
      // A cached-key RS256 verification takes ~0.1 ms; a JWKS or discovery fetch adds milliseconds.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5],
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'idgate_proxy_upstream_errors_total',
      help: 'Upstream failures by reason (connect: 502, timeout: 504, reset: connection lost mid-response)',
      labelNames: ['reason'],
      registers,
    }),
    jwksFetches: new Counter({
      name: 'idgate_proxy_jwks_fetches_total',
      help: 'JWKS requests to the issuers, by outcome',
      labelNames: ['issuer', 'outcome'],
      registers,
    }),
    tokenCache: new Counter({
      name: 'idgate_proxy_token_cache_lookups_total',
      help: "Verified-token cache lookups by result (hit; miss, which verifies; coalesced, a miss that waited for the same token's verification in progress)",
      labelNames: ['result'],
      registers,
    }),
  };
}
