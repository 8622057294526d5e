/**
 * A real OpenID Connect provider (panva's oidc-provider v9) on 127.0.0.1:0 for the proxy tests.
 *
 * Clients use the client_credentials grant with a resource indicator (RFC 8707); the resource
 * server is configured with `accessTokenFormat: 'jwt'`, so the access tokens are RFC 9068 JWTs
 * signed with the provider's keys, with `aud` = the resource and a `groups` claim per client
 * (added by `extraTokenClaims`). oidc-provider accepts an http:// issuer (it only asserts that the
 * issuer has a scheme and host, no query or fragment), so no TLS is needed on loopback.
 *
 * Key rotation swaps in a new Provider instance on the same listening server whose keystore holds
 * the new key first (it signs with it) and still publishes the old one, as a real rotation does.
 * Every request is counted by path, so tests can assert how often the JWKS was fetched.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The groups each test client's tokens carry. */
export const TEST_CLIENTS: Readonly<Record<string, readonly string[]>> = {
  'payments-api': ['payments', 'readers'],
  'reports-job': ['readers'],
  'no-groups': [],
};

/** A running provider: its issuer, tokens on demand, key rotation and request counts. */
export interface TestProvider {
  /** The issuer identifier, `http://127.0.0.1:<port>`. */
  readonly issuer: string;
  /** Requests received so far on `path` (e.g. `/jwks`). */
  requests(path: string): number;
  /** A JWT access token for `clientId` with `aud` = `resource` (defaults to the provider's default audience). */
  token(clientId: keyof typeof TEST_CLIENTS | string, resource?: string): Promise<string>;
  /** The `kid`s the provider currently publishes, signing key first. */
  readonly kids: readonly string[];
  /** Generates a new signing key; the old one stays published. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

/** Settings of {@link startTestProvider}. */
export interface TestProviderOptions {
  /** The audience of tokens requested without a resource. */
  readonly defaultAudience?: string;
  /** Access-token lifetime in seconds. */
  readonly ttlSec?: number;
}

const CLIENT_SECRET = 'test-client-secret-that-is-long-enough-0123456789';

interface ProviderInstance {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
}
type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => ProviderInstance;

/**
 * A per-process Map adapter: the same as oidc-provider's built-in development adapter, minus the
 * warning it prints on every start (tests need no persistence).
 */
const store = new Map<string, Record<string, unknown>>();
class MapAdapter {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  key(id: string): string {
    return `${this.name}:${id}`;
  }
  async upsert(id: string, payload: Record<string, unknown>): Promise<void> {
    store.set(this.key(id), payload);
  }
  async find(id: string): Promise<Record<string, unknown> | undefined> {
    return store.get(this.key(id));
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async consume(id: string): Promise<void> {
    const v = store.get(this.key(id));
    if (v) v.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string): Promise<void> {
    store.delete(this.key(id));
  }
  async revokeByGrantId(): Promise<void> {}
}

function signingJwk(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

/** Starts a provider; close it in an `after` hook. */
export async function startTestProvider(options: TestProviderOptions = {}): Promise<TestProvider> {
  // oidc-provider ships no type declarations; the test only needs its constructor and callback.
  const specifier: string = 'oidc-provider';
  const { default: Provider } = (await import(specifier)) as { default: ProviderCtor };
  const defaultAudience = options.defaultAudience ?? 'urn:idgate:test-api';
  const ttl = options.ttlSec ?? 300;
  const counts = new Map<string, number>();
  let keys = [signingJwk()];
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end();
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function build(): void {
    const provider = new Provider(issuer, {
      clients: Object.keys(TEST_CLIENTS).map((clientId) => ({
        client_id: clientId,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'api',
      })),
      jwks: { keys },
      scopes: ['openid', 'api'],
      adapter: MapAdapter,
      cookies: { keys: ['test-cookie-key'] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => defaultAudience,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => ({
            scope: 'api',
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttl,
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => ({ groups: [...(TEST_CLIENTS[token.clientId ?? ''] ?? [])] }),
      ttl: { ClientCredentials: ttl },
    });
    handler = provider.callback();
  }
  build();

  return {
    issuer,
    requests: (path) => counts.get(path) ?? 0,
    get kids() {
      return keys.map((k) => k.kid as string);
    },
    async token(clientId, resource = defaultAudience) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api', resource }).toString(),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (res.status !== 200 || body.access_token === undefined) {
        throw new Error(`token request for ${clientId} failed: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
      }
      return body.access_token;
    },
    async rotateKeys() {
      keys = [signingJwk(), ...keys];
      build();
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
