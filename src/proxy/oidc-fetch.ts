/**
 * Fetching an issuer's keys: OpenID Connect discovery once, then the JWKS it names, each
 * request bounded in time and size, redirects not followed. The key set (key-set.ts) decides
 * when this runs; nothing here retries.
 */
import type { JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';

/** The fetch used for discovery and JWKS; injectable for tests and per issuer. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** A discovery document or key set is a few KiB; anything far larger is refused. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** The discovery URL of an issuer (OpenID Connect Discovery 1.0, section 4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** The JSON body of a 200 answer, read up to {@link MAX_DOCUMENT_BYTES}. */
async function boundedJson(res: Response, url: string): Promise<unknown> {
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${res.status}, expected 200`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > MAX_DOCUMENT_BYTES) throw new Error(`${url} answered more than ${MAX_DOCUMENT_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error(`${url} did not answer JSON`);
  }
}

/** What {@link createJwksLoader} needs. */
export interface JwksLoaderOptions {
  readonly issuer: string;
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Called once per JWKS request with its outcome (metrics). */
  readonly onJwksFetch?: (outcome: 'ok' | 'error') => void;
}

/**
 * A loader of the issuer's JWKS: the first call runs discovery (and retries it until it once
 * succeeds); every call then fetches the JWKS at the `jwks_uri` discovery named.
 */
export function createJwksLoader({ issuer, fetch, timeoutMs, logger, onJwksFetch }: JwksLoaderOptions): () => Promise<JSONWebKeySet> {
  let jwksUri: URL | undefined;
  const get = (url: string | URL) => fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual', headers: { accept: 'application/json' } });

  async function discover(): Promise<URL> {
    const url = discoveryUrl(issuer);
    const doc = (await boundedJson(await get(url), url)) as { issuer?: unknown; jwks_uri?: unknown } | null;
    // OpenID Connect Discovery 1.0 section 4.3: the document's issuer MUST equal the configured one.
    if (doc?.issuer !== issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc?.issuer)}, expected ${JSON.stringify(issuer)}`);
    if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) throw new Error(`${url} has no valid jwks_uri`);
    const found = new URL(doc.jwks_uri);
    if (found.protocol !== 'https:' && found.protocol !== 'http:') throw new Error(`${url} names a jwks_uri that is not http(s)`);
    logger.info({ issuer, jwksUri: found.href }, 'OIDC discovery done');
    return found;
  }

  return async () => {
    jwksUri ??= await discover();
    try {
      const jwks = (await boundedJson(await get(jwksUri), jwksUri.href)) as JSONWebKeySet;
      onJwksFetch?.('ok');
      return jwks;
    } catch (err) {
      onJwksFetch?.('error');
      throw err;
    }
  };
}
