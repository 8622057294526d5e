/**
 * The cluster's own ServiceAccount issuer as an OIDC issuer (docs/design.md#sidecar-proxy): projected tokens
 * from other workloads verify like any OIDC token, but the API server serves its discovery
 * document and JWKS (`/.well-known/openid-configuration`, `/openid/v1/jwks`) over TLS signed by
 * the cluster CA, and by default only to authenticated ServiceAccounts (the
 * `system:service-account-issuer-discovery` ClusterRole is bound to `system:serviceaccounts`).
 * So for that one issuer, and no other, discovery and JWKS requests trust the cluster CA and
 * carry the Pod's own ServiceAccount token, both from the files the kubelet mounts.
 *
 * The token goes to the issuer's own origin (scheme, host, port) and nowhere else. The discovery
 * document names the JWKS location (`jwks_uri`, the API server's --service-account-jwks-uri),
 * and a document naming another host must not collect a credential of this Pod on the way: a
 * `jwks_uri` on another origin is fetched without the token, trusting the cluster CA and the
 * system's root CAs (a public JWKS, as managed clusters publish, needs no credentials; one on
 * an API server address that requires them fails, and the failure is logged with the URL and
 * the 401, to be fixed by making `/openid/v1/jwks` readable anonymously, the documented
 * `system:service-account-issuer-discovery` binding to `system:unauthenticated`, or by pointing
 * --service-account-jwks-uri at the issuer's origin). Redirects are never followed, so an
 * answer cannot move the token elsewhere either.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { FetchLike } from './oidc-fetch.ts';

/** Where the kubelet mounts a Pod's ServiceAccount credentials (the kube-api-access volume). */
export const IN_POD_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
export const IN_POD_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** A discovery document or key set is a few KiB; anything far larger is refused. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface KubernetesIssuerCredentials {
  /** The issuer URL; only its origin receives the token. */
  readonly issuer: string;
  /** PEM CA bundle the API server's certificate chains to. */
  readonly caFile: string;
  /** The Pod's ServiceAccount token; read at every request, as the kubelet rotates it. */
  readonly tokenFile: string;
}

/**
 * A fetch for the Kubernetes issuer's discovery and JWKS requests (GET only, as the verifier
 * makes them): at the issuer's origin, the cluster CA as the only trust anchor and the
 * ServiceAccount token as a bearer token; at any other origin, no token (see above); redirects
 * not followed, bodies bounded.
 */
export function kubernetesIssuerFetch(credentials: KubernetesIssuerCredentials): FetchLike {
  const issuerOrigin = new URL(credentials.issuer).origin;
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const own = url.origin === issuerOrigin;
      let ca: string;
      let token: string | undefined;
      try {
        ca = readFileSync(credentials.caFile, 'utf8');
        if (own) token = readFileSync(credentials.tokenFile, 'utf8').trim();
      } catch (err) {
        reject(new Error(`cannot read the ServiceAccount credentials for the Kubernetes issuer: ${(err as Error).message}`));
        return;
      }
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const req = request(
        url,
        { method: 'GET', ca: own ? ca : [...rootCertificates, ca], headers, ...(init?.signal ? { signal: init.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) req.destroy(new Error(`${url.href}: answer larger than ${MAX_BODY_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') headers.set(name, value);
            }
            resolve(new Response(Buffer.concat(chunks, size), { status: res.statusCode ?? 502, headers }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
}
