/**
 * The proxy's validated, frozen configuration (docs/design.md#command-line, #sidecar-proxy), built once at start-up
 * from the command line. Every check names the flag to fix.
 */
import { DEFAULT_GROUPS_CLAIM } from './claims.ts';
import { IN_POD_CA_FILE, IN_POD_TOKEN_FILE } from './kubernetes-issuer.ts';

/** The proxy's configuration, as {@link buildProxyConfig} validates and freezes it. */
export interface ProxyConfig {
  /** Where allowed requests go: an http:// origin (normally the app on 127.0.0.1), optional base path. */
  readonly upstream: URL;
  /** Trusted issuers, exactly as in the tokens' `iss` (`--issuer`). */
  readonly issuers: readonly string[];
  /** Accepted audiences; a token's `aud` must contain one (`--audience`). */
  readonly audiences: readonly string[];
  /** Any one of these groups suffices; empty: every verified caller is allowed. */
  readonly allowedGroups: readonly string[];
  /** Claim path of the groups (`--groups-claim`; see claims.ts). */
  readonly groupsClaim: string;
  /** Exact request paths forwarded without a token (health probes). */
  readonly skipPaths: readonly string[];
  /** Time the upstream has to send response headers once the request is sent. */
  readonly upstreamTimeoutMs: number;
  /**
   * Pass the caller's Authorization header to the upstream (`--pass-authorization`). Off by
   * default: an app that receives tokens can replay them to every service of the same audience.
   */
  readonly passAuthorization: boolean;
  /** Leeway for `exp`/`nbf`, in seconds (`--clock-skew`). */
  readonly clockToleranceSec: number;
  /** Bound of the verified-token cache; 0 disables it (`--token-cache-size`). */
  readonly tokenCacheMaxEntries: number;
  /** Minimum time between JWKS refetches triggered by an unknown `kid`. */
  readonly jwksCooldownMs: number;
  /** Keys older than this are refreshed in the background, while still in use. */
  readonly jwksCacheMaxAgeMs: number;
  /** How long the last good keys stay in use while the identity provider cannot be reached. */
  readonly jwksMaxStaleMs: number;
  /**
   * The cluster's ServiceAccount issuer (`--kubernetes-issuer`), also in `issuers`: its discovery
   * and JWKS are fetched with the Pod's ServiceAccount credentials (kubernetes-issuer.ts).
   */
  readonly kubernetesIssuer?: {
    readonly issuer: string;
    readonly caFile: string;
    readonly tokenFile: string;
  };
}

/** What the command line provides; everything but the three required flags has a default. */
export interface ProxyConfigInput {
  readonly upstream: string;
  readonly issuers: readonly string[];
  readonly audiences: readonly string[];
  readonly allowedGroups?: readonly string[];
  readonly groupsClaim?: string;
  readonly skipPaths?: readonly string[];
  readonly upstreamTimeoutMs?: number;
  readonly passAuthorization?: boolean;
  readonly clockToleranceSec?: number;
  readonly tokenCacheMaxEntries?: number;
  readonly jwksCooldownMs?: number;
  readonly jwksCacheMaxAgeMs?: number;
  readonly jwksMaxStaleMs?: number;
  readonly kubernetesIssuer?: string;
  readonly kubernetesCaFile?: string;
  readonly kubernetesTokenFile?: string;
}

/** Defaults of the optional settings, shared by the config builder and the CLI's --help. */
export const PROXY_DEFAULTS = Object.freeze({
  listen: '0.0.0.0:4180',
  groupsClaim: DEFAULT_GROUPS_CLAIM,
  // Kubernetes' default terminationGracePeriodSeconds is 30 s; a request may not outlive the Pod.
  upstreamTimeoutMs: 30_000,
  // 30 s of skew, the Kubernetes API server's OIDC authenticator uses the same order of leeway.
  clockToleranceSec: 30,
  // 10,000 entries of ~300 bytes each: a few MiB at most, far under the sidecar's memory limit.
  tokenCacheMaxEntries: 10_000,
  // jose's own defaults: refetch on unknown kid at most every 30 s, keys refreshed after 10 min.
  jwksCooldownMs: 30_000,
  jwksCacheMaxAgeMs: 600_000,
  // Last-good keys outlive a failing identity provider by 24 h. go-oidc (the Kubernetes API
  // server's and oauth2-proxy's OIDC verifier) keeps them with no bound at all; a bound means a
  // proxy cut off from its provider stops trusting a key the provider may have withdrawn, while
  // 24 h rides through a day-long outage: longer than any token the proxy sees lives (IdP access
  // tokens live minutes to an hour; kubelet-projected ServiceAccount tokens 1 h, rotated at 80%),
  // so callers keep working on tokens issued before the outage and shortly after it.
  jwksMaxStaleMs: 86_400_000,
});

/** A configuration error naming the flag at fault (code ERR_PROXY_CONFIG: the CLI exits 2 with it, src/errors.ts). */
export class ProxyConfigError extends Error {
  readonly code = 'ERR_PROXY_CONFIG';
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(`${flag}: ${message}`);
    this.name = 'ProxyConfigError';
    this.flag = flag;
  }
}

function httpUrl(flag: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ProxyConfigError(flag, `"${value}" is not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProxyConfigError(flag, `"${value}" must be an http:// or https:// URL`);
  if (url.search !== '' || url.hash !== '') throw new ProxyConfigError(flag, `"${value}" must not carry a query or fragment`);
  if (url.username !== '' || url.password !== '') throw new ProxyConfigError(flag, `"${value}" must not carry credentials`);
  return url;
}

/** Validates the input and returns a frozen configuration; throws {@link ProxyConfigError}. */
export function buildProxyConfig(input: ProxyConfigInput): ProxyConfig {
  const upstream = httpUrl('--upstream', input.upstream);
  // The sidecar talks to its app over the Pod's loopback: plain HTTP, no TLS to terminate twice.
  if (upstream.protocol !== 'http:')
    throw new ProxyConfigError('--upstream', `"${input.upstream}" must be http:// (the app is reached over the Pod's loopback)`);
  if (input.issuers.length === 0 && !input.kubernetesIssuer) {
    throw new ProxyConfigError('--issuer', 'at least one issuer URL is required (or --kubernetes-issuer)');
  }
  for (const issuer of input.issuers) httpUrl('--issuer', issuer);
  let kubernetesIssuer: ProxyConfig['kubernetesIssuer'];
  if (input.kubernetesIssuer) {
    if (httpUrl('--kubernetes-issuer', input.kubernetesIssuer).protocol !== 'https:') {
      throw new ProxyConfigError('--kubernetes-issuer', `"${input.kubernetesIssuer}" must be https:// (the API server's service-account-issuer)`);
    }
    kubernetesIssuer = Object.freeze({
      issuer: input.kubernetesIssuer,
      caFile: input.kubernetesCaFile ?? IN_POD_CA_FILE,
      tokenFile: input.kubernetesTokenFile ?? IN_POD_TOKEN_FILE,
    });
  }
  const issuers = [...new Set([...input.issuers, ...(input.kubernetesIssuer ? [input.kubernetesIssuer] : [])])];
  if (input.audiences.length === 0) throw new ProxyConfigError('--audience', 'an audience is required (the aud your tokens are issued for)');
  const groupsClaim = input.groupsClaim ?? PROXY_DEFAULTS.groupsClaim;
  if (groupsClaim.trim() === '') throw new ProxyConfigError('--groups-claim', 'must not be empty (e.g. groups, realm_access.roles, cognito:groups)');
  for (const p of input.skipPaths ?? []) {
    if (!p.startsWith('/')) throw new ProxyConfigError('--skip-paths', `"${p}" must be an absolute path such as /healthz`);
    if (p.includes('*') || p.includes('?')) throw new ProxyConfigError('--skip-paths', `"${p}": skip paths are exact paths, without wildcards or query`);
  }
  const nonNegative = (flag: string, v: number | undefined, fallback: number): number => {
    const n = v ?? fallback;
    if (!Number.isFinite(n) || n < 0) throw new ProxyConfigError(flag, `expected a non-negative number, got ${v}`);
    return n;
  };
  const upstreamTimeoutMs = nonNegative('--upstream-timeout', input.upstreamTimeoutMs, PROXY_DEFAULTS.upstreamTimeoutMs);
  if (upstreamTimeoutMs === 0) throw new ProxyConfigError('--upstream-timeout', 'must be greater than zero');
  return Object.freeze({
    upstream,
    issuers: Object.freeze(issuers),
    audiences: Object.freeze([...input.audiences]),
    allowedGroups: Object.freeze([...(input.allowedGroups ?? [])]),
    groupsClaim,
    skipPaths: Object.freeze([...(input.skipPaths ?? [])]),
    upstreamTimeoutMs,
    passAuthorization: input.passAuthorization ?? false,
    clockToleranceSec: nonNegative('--clock-skew', input.clockToleranceSec, PROXY_DEFAULTS.clockToleranceSec),
    tokenCacheMaxEntries: Math.floor(nonNegative('--token-cache-size', input.tokenCacheMaxEntries, PROXY_DEFAULTS.tokenCacheMaxEntries)),
    jwksCooldownMs: nonNegative('jwksCooldownMs', input.jwksCooldownMs, PROXY_DEFAULTS.jwksCooldownMs),
    jwksCacheMaxAgeMs: nonNegative('jwksCacheMaxAgeMs', input.jwksCacheMaxAgeMs, PROXY_DEFAULTS.jwksCacheMaxAgeMs),
    jwksMaxStaleMs: nonNegative('jwksMaxStaleMs', input.jwksMaxStaleMs, PROXY_DEFAULTS.jwksMaxStaleMs),
    ...(kubernetesIssuer ? { kubernetesIssuer } : {}),
  });
}
