/**
 * Fault: the Pod's ServiceAccount token leaving the cluster issuer's origin (issue 14). With
 * `--kubernetes-issuer`, discovery and JWKS requests to the API server carry the Pod's token.
 * A discovery document whose `jwks_uri` names another origin (another host or port) must not
 * receive it: the proxy fetches that JWKS without the token (src/proxy/kubernetes-issuer.ts).
 * Both servers speak TLS under the same test "cluster CA", so only the token rule can keep the
 * token from the second one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueCertificate } from '../../src/certs/generate.ts';
import { startEchoUpstream, startProxy, type Echo, type Running } from '../proxy/helpers.ts';
import { startSigningIssuer, type SigningIssuer } from '../proxy/signing-issuer.ts';

const POD_TOKEN = 'pod-sa-token';

describe('fault: the ServiceAccount token and a jwks_uri on another origin', () => {
  let dir: string;
  let caFile: string;
  let tokenFile: string;
  let tls: { cert: string; key: string };
  let upstream: Running & { seen: Echo[] };
  const servers: SigningIssuer[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-kube-origin-'));
    const ca = createCA({ commonName: 'kubernetes' });
    const serving = issueCertificate(ca, { commonName: 'kube-apiserver', hosts: ['127.0.0.1'], days: 1, usage: 'server' });
    tls = { cert: serving.cert, key: serving.key };
    caFile = join(dir, 'ca.crt');
    tokenFile = join(dir, 'token');
    await writeFile(caFile, ca.cert);
    await writeFile(tokenFile, `${POD_TOKEN}\n`);
    upstream = await startEchoUpstream();
  });
  after(async () => {
    await Promise.all([upstream.close(), ...servers.map((s) => s.close())]);
    await rm(dir, { recursive: true, force: true });
  });

  /** The cluster issuer (token required, as the API server) whose discovery names `elsewhere`'s JWKS. */
  async function issuers(elsewhereRequiresToken: boolean): Promise<{ kube: SigningIssuer; elsewhere: SigningIssuer }> {
    const elsewhere = await startSigningIssuer({ tls, ...(elsewhereRequiresToken ? { requiredToken: POD_TOKEN } : {}) });
    const kube = await startSigningIssuer({ tls, requiredToken: POD_TOKEN, jwksUri: () => `${elsewhere.url}/openid/v1/jwks` });
    servers.push(elsewhere, kube);
    return { kube, elsewhere };
  }

  const proxyFor = (kube: SigningIssuer) =>
    startProxy({
      upstream: upstream.url,
      issuers: [],
      audiences: ['idgate'],
      kubernetesIssuer: kube.issuer,
      kubernetesCaFile: caFile,
      kubernetesTokenFile: tokenFile,
    });

  it('fetches a jwks_uri on another origin without the token (and verifies with its keys)', async () => {
    const { kube, elsewhere } = await issuers(false);
    const proxy = await proxyFor(kube);
    try {
      // Signed with the key the foreign jwks_uri publishes, in the name of the cluster issuer.
      const token = await elsewhere.sign({ iss: kube.issuer, sub: 'system:serviceaccount:shop:web' });
      const res = await fetch(`${proxy.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, await res.text());
      const withToken = elsewhere.authorizations.filter((a) => a !== undefined).length;
      console.log(
        `kube issuer origin: the cluster issuer got ${kube.authorizations.length} requests (${kube.authorizations.filter((a) => a === `Bearer ${POD_TOKEN}`).length} with the Pod token); the other origin got ${elsewhere.authorizations.length}, ${withToken} with any token`,
      );
      assert.ok(kube.authorizations.length >= 1 && kube.authorizations.every((a) => a === `Bearer ${POD_TOKEN}`), 'discovery at the issuer, with the token');
      assert.ok(elsewhere.requests('/openid/v1/jwks') >= 1, 'the JWKS was fetched from where discovery said');
      assert.equal(withToken, 0, "the token never left the issuer's origin");
    } finally {
      await proxy.close();
    }
  });

  it('answers 503 when that other origin insists on a token, and still does not send it', async () => {
    const { kube, elsewhere } = await issuers(true);
    const proxy = await proxyFor(kube);
    try {
      const token = await elsewhere.sign({ iss: kube.issuer, sub: 'system:serviceaccount:shop:web' });
      const res = await fetch(`${proxy.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 503);
      assert.equal(elsewhere.authorizations.filter((a) => a !== undefined).length, 0);
      assert.equal(upstream.seen.filter((e) => e.url === '/orders').length, 1, "only the first test's request reached the app");
    } finally {
      await proxy.close();
    }
  });
});
