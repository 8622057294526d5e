/**
 * A minimal OIDC issuer on 127.0.0.1 whose signing key the test holds: discovery and a one-key
 * JWKS, served over HTTP or TLS, optionally only to one bearer token (as the Kubernetes API
 * server serves its issuer documents). The real provider (test/support/oidc-provider.ts) issues
 * only well-formed claims; this one signs whatever claims a test needs to throw at the proxy
 * (a group with a comma, an array `sub`…), through the same discovery and JWKS path.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { listen, type Running } from './helpers.ts';

/** A running issuer. */
export interface SigningIssuer {
  readonly issuer: string;
  readonly url: string;
  readonly key: CryptoKey;
  /** The Authorization header of every request received, in order. */
  readonly authorizations: Array<string | undefined>;
  /** Requests received on `path`. */
  requests(path: string): number;
  /** A token with `claims` (iss, aud `audience`, iat and a 10-minute exp are set unless given). */
  sign(claims: JWTPayload & Record<string, unknown>, audience?: string): Promise<string>;
  close(): Promise<void>;
}

/** Settings of {@link startSigningIssuer}. */
export interface SigningIssuerOptions {
  /** Serve over TLS with this certificate (an https:// issuer). */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Answer only requests bearing this token; others get the API server's 401 Status. */
  readonly requiredToken?: string;
  /** The jwks_uri the discovery document names (default: this issuer's /openid/v1/jwks). */
  readonly jwksUri?: () => string;
  /** The audience of {@link SigningIssuer.sign} when none is given. */
  readonly audience?: string;
}

/** Starts an issuer; close it in an `after` hook. */
export async function startSigningIssuer(options: SigningIssuerOptions = {}): Promise<SigningIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const authorizations: Array<string | undefined> = [];
  const counts = new Map<string, number>();
  let issuer = '';
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    authorizations.push(req.headers.authorization);
    counts.set(req.url ?? '', (counts.get(req.url ?? '') ?? 0) + 1);
    if (options.requiredToken !== undefined && req.headers.authorization !== `Bearer ${options.requiredToken}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      return;
    }
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: options.jwksUri?.() ?? `${issuer}/openid/v1/jwks`, id_token_signing_alg_values_supported: ['RS256'] }
        : req.url === '/openid/v1/jwks'
          ? { keys: [jwk] }
          : undefined;
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
  const running: Running = await listen(server);
  issuer = options.tls ? running.url.replace(/^http:/, 'https:') : running.url;
  return {
    issuer,
    url: issuer,
    key: privateKey,
    authorizations,
    requests: (path) => counts.get(path) ?? 0,
    sign: (claims, audience = options.audience ?? 'idgate') =>
      new SignJWT({ iss: issuer, aud: audience, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .sign(privateKey),
    close: running.close,
  };
}
