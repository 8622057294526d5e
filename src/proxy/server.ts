/**
 * The auth sidecar as a node:http server (docs/design.md#sidecar-proxy), without listening: the CLI and the
 * tests decide where. Order per request: skip paths (exact, GET/HEAD only, forwarded without a
 * token), the proxy's own `/healthz` and `/metrics`, then bearer-token authentication, the
 * groups check, forwarding. A refused request gets a fixed answer (errors.ts) and its body is
 * not read (refuse.ts).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { groupsAllowed } from './claims.ts';
import type { ProxyConfig } from './config.ts';
import { ProxyDenial } from './errors.ts';
import { createForwarder, type Forwarder } from './forward.ts';
import { isProbe, pathOf } from './paths.ts';
import { refuse, refuseUpgrade } from './refuse.ts';
import { createProxyMetrics, type DecisionLabel, type ProxyMetrics } from './metrics.ts';
import { createTokenCache, type TokenCache, tokenKey, type VerifiedIdentity } from './token-cache.ts';
import { createVerifier, type FetchLike, type Verifier } from './verifier.ts';
import { kubernetesIssuerFetch } from './kubernetes-issuer.ts';

/** What {@link createProxy} needs; only `config`, `logger` and `registry` are required. */
export interface ProxyDeps {
  readonly config: ProxyConfig;
  readonly logger: Logger;
  /** Where the proxy's metrics are registered and what `/metrics` serves. */
  readonly registry: Registry;
  /** Epoch milliseconds, for token expiry and the cache. */
  readonly clock?: () => number;
  /** Used for OIDC discovery and JWKS. */
  readonly fetch?: FetchLike;
  /** Replaces the jose verifier (benchmarks); by default one is built from `config`. */
  readonly verifier?: Verifier;
}

/** The proxy's own liveness path (a skip path of the same name wins and is forwarded). */
export const HEALTH_PATH = '/healthz';
/** The proxy's own Prometheus path (a skip path of the same name wins and is forwarded). */
export const METRICS_PATH = '/metrics';

// Clients and load balancers commonly keep idle connections 60 s (AWS ALB's default idle
// timeout); the server must not close first or a reused connection races the close.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Every value of the Authorization header, from rawHeaders (req.headers keeps only one). */
function authorizationValues(raw: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'authorization') values.push(raw[i + 1]!);
  return values;
}

// RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Extra fields of the decision log line of an upgrade request. */
const UPGRADE_FIELDS = Object.freeze({ upgrade: true });

const DECISION_OF: Record<ProxyDenial['code'], DecisionLabel> = {
  IDGATE_PROXY_NO_TOKEN: 'unauthorized',
  IDGATE_PROXY_INVALID_TOKEN: 'unauthorized',
  IDGATE_PROXY_BAD_REQUEST: 'bad_request',
  IDGATE_PROXY_FORBIDDEN: 'forbidden',
  IDGATE_PROXY_IDP_UNAVAILABLE: 'unavailable',
};

/** Builds the jose verifier from `config`, with the Kubernetes issuer's own fetch when one is configured. */
function buildVerifier(deps: ProxyDeps, metrics: ProxyMetrics, clock: () => number): Verifier {
  const { config, logger } = deps;
  const kube = config.kubernetesIssuer;
  const kubeFetch = kube ? kubernetesIssuerFetch(kube) : undefined;
  return createVerifier({
    issuers: config.issuers,
    audiences: config.audiences,
    groupsClaim: config.groupsClaim,
    clockToleranceSec: config.clockToleranceSec,
    jwksCooldownMs: config.jwksCooldownMs,
    jwksCacheMaxAgeMs: config.jwksCacheMaxAgeMs,
    jwksMaxStaleMs: config.jwksMaxStaleMs,
    logger,
    clock,
    fetch: deps.fetch,
    fetchFor: (issuer) => (issuer === kube?.issuer ? kubeFetch : undefined),
    onJwksFetch: (issuer, outcome) => metrics.jwksFetches.inc({ issuer, outcome }),
  });
}

/** Bearer-token authentication and the groups check, with the verified-token cache. */
class Authenticator {
  readonly #verifier: Verifier;
  readonly #metrics: ProxyMetrics;
  readonly #allowedGroups: ProxyConfig['allowedGroups'];
  readonly #cache: TokenCache;
  /** Verifications in progress, by token hash. */
  readonly #verifications = new Map<string, Promise<VerifiedIdentity>>();

  constructor(deps: ProxyDeps, metrics: ProxyMetrics) {
    const clock = deps.clock ?? Date.now;
    this.#metrics = metrics;
    this.#verifier = deps.verifier ?? buildVerifier(deps, metrics, clock);
    this.#allowedGroups = deps.config.allowedGroups;
    this.#cache = createTokenCache({ maxEntries: deps.config.tokenCacheMaxEntries, clock });
  }

  async authenticate(req: http.IncomingMessage): Promise<VerifiedIdentity> {
    const token = bearerToken(req);
    let identity = this.#cache.get(token);
    if (identity) {
      this.#metrics.tokenCache.inc({ result: 'hit' });
    } else {
      // A burst of requests with a token not seen yet (a caller starting, or rotating its
      // token) shares one verification instead of paying one each.
      const key = tokenKey(token);
      let verifying = this.#verifications.get(key);
      if (verifying) {
        this.#metrics.tokenCache.inc({ result: 'coalesced' });
      } else {
        this.#metrics.tokenCache.inc({ result: 'miss' });
        verifying = this.#verifyAndRemember(token).finally(() => this.#verifications.delete(key));
        this.#verifications.set(key, verifying);
      }
      identity = await verifying;
    }
    if (!groupsAllowed(identity.groups, this.#allowedGroups)) {
      throw new ProxyDenial('IDGATE_PROXY_FORBIDDEN', 403, 'the token is valid but none of its groups is allowed here');
    }
    return identity;
  }

  async #verifyAndRemember(token: string): Promise<VerifiedIdentity> {
    const started = performance.now();
    let identity: VerifiedIdentity;
    try {
      identity = await this.#verifier.verify(token);
      this.#metrics.verifyDuration.observe({ result: 'valid' }, (performance.now() - started) / 1000);
    } catch (err) {
      this.#metrics.verifyDuration.observe({ result: 'invalid' }, (performance.now() - started) / 1000);
      throw err;
    }
    this.#cache.set(token, identity);
    return identity;
  }
}

/** The one bearer token of `req`, or the denial that says what is wrong with its Authorization header. */
function bearerToken(req: http.IncomingMessage): string {
  const values = authorizationValues(req.rawHeaders);
  if (values.length === 0) throw new ProxyDenial('IDGATE_PROXY_NO_TOKEN', 401, 'a bearer token is required (Authorization: Bearer <token>)');
  if (values.length > 1) throw new ProxyDenial('IDGATE_PROXY_BAD_REQUEST', 400, 'send exactly one Authorization header');
  const match = BEARER.exec(values[0]!);
  if (!match) {
    // docs/design.md#refusals-and-outages: a malformed token is a 401 (invalid_token), like any other bad token.
    if (/^bearer(\s|$)/i.test(values[0]!)) throw new ProxyDenial('IDGATE_PROXY_INVALID_TOKEN', 401, 'the bearer token is malformed');
    throw new ProxyDenial('IDGATE_PROXY_NO_TOKEN', 401, 'only the Bearer authentication scheme is accepted');
  }
  return match[1]!;
}

/** What the proxy does with each request and upgrade: serve its own paths, or judge, log and forward. */
class ProxyHandler {
  readonly #logger: Logger;
  readonly #registry: Registry;
  readonly #metrics: ProxyMetrics;
  readonly #auth: Authenticator;
  readonly #forwarder: Forwarder;
  readonly #skip: ReadonlySet<string>;

  constructor(deps: ProxyDeps) {
    this.#logger = deps.logger;
    this.#registry = deps.registry;
    this.#metrics = createProxyMetrics(deps.registry);
    this.#auth = new Authenticator(deps, this.#metrics);
    this.#forwarder = createForwarder({ config: deps.config, logger: deps.logger, metrics: this.#metrics });
    this.#skip = new Set(deps.config.skipPaths);
  }

  close(): void {
    this.#forwarder.close();
  }

  async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    const probe = isProbe(req.method, req.headers);
    if (probe && this.#skip.has(path)) {
      this.#logDecision(req, 'skipped', {});
      this.#forwarder.http(req, res, undefined);
      return;
    }
    // Any other method on these paths is the app's, behind authentication like everything else.
    if (probe && path === HEALTH_PATH) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{"status":"ok"}');
      return;
    }
    if (probe && path === METRICS_PATH) {
      const body = await this.#registry.metrics();
      res.writeHead(200, { 'content-type': this.#registry.contentType });
      res.end(body);
      return;
    }
    const outcome = await this.#admit(req, {});
    if (outcome instanceof ProxyDenial) {
      refuse(req, res, outcome);
      return;
    }
    this.#forwarder.http(req, res, outcome.headers);
  }

  async onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', (err) => this.#logger.debug({ err: err.message }, 'upgrade socket error'));
    // No skip path for upgrades: a WebSocket on /healthz is authenticated like any other request.
    const outcome = await this.#admit(req, UPGRADE_FIELDS);
    if (outcome instanceof ProxyDenial) {
      refuseUpgrade(socket, outcome);
      return;
    }
    this.#forwarder.upgrade(req, socket, head, outcome.headers);
  }

  /**
   * Authenticates `req` and records the decision: the identity to forward, or the denial to
   * answer with. Plain requests and upgrades share it so both are judged and logged alike.
   */
  async #admit(req: http.IncomingMessage, fields: Readonly<Record<string, unknown>>): Promise<VerifiedIdentity | ProxyDenial> {
    let identity: VerifiedIdentity;
    try {
      identity = await this.#auth.authenticate(req);
    } catch (err) {
      const d = this.#denial(err);
      this.#logDecision(req, DECISION_OF[d.code], {
        status: d.status,
        code: d.code,
        reason: d.message,
        ...(d.detail === undefined ? {} : { detail: d.detail }),
        ...fields,
      });
      return d;
    }
    this.#logDecision(req, 'allowed', { subject: identity.subject, issuer: identity.issuer, ...fields });
    return identity;
  }

  #denial(err: unknown): ProxyDenial {
    if (err instanceof ProxyDenial) return err;
    this.#logger.error({ err }, 'unexpected error while authenticating');
    return new ProxyDenial('IDGATE_PROXY_IDP_UNAVAILABLE', 503, 'the request could not be authenticated, retry later');
  }

  #logDecision(req: http.IncomingMessage, decision: DecisionLabel, fields: Record<string, unknown>): void {
    this.#metrics.requests.inc({ decision });
    const forwarded = decision === 'allowed' || decision === 'skipped';
    // Forwarded requests log at debug: below that level, skip building a line nobody writes.
    if (forwarded && !this.#logger.isLevelEnabled('debug')) return;
    // The path without its query: `?access_token=…` never reaches a log line.
    const line = { decision, method: req.method, path: pathOf(req.url), ...fields };
    if (forwarded) this.#logger.debug(line, 'request forwarded');
    else this.#logger.info(line, 'request refused');
  }
}

/** Creates the proxy server; call `listen` on it. Closing it also closes upstream connections. */
export function createProxy(deps: ProxyDeps): http.Server {
  const { logger } = deps;
  const handler = new ProxyHandler(deps);
  const server = http.createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: KEEP_ALIVE_TIMEOUT_MS + 1_000 });
  server.on('request', (req, res) => {
    handler.onRequest(req, res).catch((err: unknown) => {
      logger.error({ err }, 'proxy request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal_error"}');
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    handler.onUpgrade(req, socket, head).catch((err: unknown) => {
      logger.error({ err }, 'proxy upgrade failed');
      socket.destroy();
    });
  });
  server.on('close', () => handler.close());
  return server;
}
