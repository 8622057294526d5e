/**
 * The cluster's own ServiceAccount issuer as an OIDC issuer (SPEC section 5): projected tokens
 * from other workloads verify like any OIDC token, but the API server serves its discovery
 * document and JWKS (`/.well-known/openid-configuration`, `/openid/v1/jwks`) over TLS signed by
 * the cluster CA, and by default only to authenticated ServiceAccounts (the
 * `system:service-account-issuer-discovery` ClusterRole is bound to `system:serviceaccounts`).
 * So for that one issuer, and no other, discovery and JWKS requests trust the cluster CA and
 * carry the Pod's own ServiceAccount token, both from the files the kubelet mounts.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { FetchLike } from './oidc-fetch.ts';

/** Where the kubelet mounts a Pod's ServiceAccount credentials (the kube-api-access volume). */
export const IN_POD_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
export const IN_POD_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** A discovery document or key set is a few KiB; anything far larger is refused. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface KubernetesIssuerCredentials {
  /** PEM CA bundle the API server's certificate chains to. */
  readonly caFile: string;
  /** The Pod's ServiceAccount token; read at every request, as the kubelet rotates it. */
  readonly tokenFile: string;
}

/**
 * A fetch for the Kubernetes issuer's discovery and JWKS requests (GET only, as the verifier
 * and jose make them): the cluster CA as the only trust anchor, the ServiceAccount token as a
 * bearer token, redirects not followed, bodies bounded.
 */
export function kubernetesIssuerFetch(credentials: KubernetesIssuerCredentials): FetchLike {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      let ca: string;
      let token: string;
      try {
        ca = readFileSync(credentials.caFile, 'utf8');
        token = readFileSync(credentials.tokenFile, 'utf8').trim();
      } catch (err) {
        reject(new Error(`cannot read the ServiceAccount credentials for the Kubernetes issuer: ${(err as Error).message}`));
        return;
      }
      const req = request(
        new URL(String(input)),
        { method: 'GET', ca, headers: { accept: 'application/json', authorization: `Bearer ${token}` }, ...(init?.signal ? { signal: init.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) req.destroy(new Error(`${String(input)}: answer larger than ${MAX_BODY_BYTES} bytes`));
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
