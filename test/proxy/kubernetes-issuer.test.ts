/**
 * The cluster's ServiceAccount issuer (docs/design.md#verification): a projected token from another workload
 * verifies like any OIDC token. The fake API server issuer below serves discovery and JWKS over
 * TLS signed by a private "cluster CA" and only to a caller presenting a ServiceAccount token,
 * as the real one does by default; the proxy must send that token to it, and to no one else.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueCertificate } from '../../src/certs/generate.ts';
import { headerValues, startEchoUpstream, startProxy } from './helpers.ts';
import { startSigningIssuer, type SigningIssuer } from './signing-issuer.ts';

type FakeIssuer = SigningIssuer;
const startIssuer = (tls: { cert: string; key: string } | undefined, requiredToken?: string) =>
  startSigningIssuer({ ...(tls ? { tls } : {}), ...(requiredToken === undefined ? {} : { requiredToken }) });
const sign = (i: FakeIssuer, sub: string) => i.sign({ sub });

describe('the Kubernetes ServiceAccount issuer', () => {
  let dir: string;
  let caFile: string;
  let tokenFile: string;
  let kube: FakeIssuer;
  let external: FakeIssuer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-kube-issuer-'));
    const ca = createCA({ commonName: 'kubernetes' });
    const serving = issueCertificate(ca, { commonName: 'kube-apiserver', hosts: ['127.0.0.1', 'localhost'], days: 1, usage: 'server' });
    caFile = join(dir, 'ca.crt');
    tokenFile = join(dir, 'token');
    await writeFile(caFile, ca.cert);
    await writeFile(tokenFile, 'pod-sa-token\n');
    kube = await startIssuer({ cert: serving.cert, key: serving.key }, 'pod-sa-token');
    external = await startIssuer(undefined);
  });
  after(async () => {
    await Promise.all([kube.close(), external.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a projected token of another workload, fetching the keys with the cluster CA and the Pod token', async () => {
    const upstream = await startEchoUpstream();
    const proxy = await startProxy({
      upstream: upstream.url,
      issuers: [external.issuer],
      audiences: ['idgate'],
      kubernetesIssuer: kube.issuer,
      kubernetesCaFile: caFile,
      kubernetesTokenFile: tokenFile,
    });
    try {
      const caller = await sign(kube, 'system:serviceaccount:shop:web');
      const res = await fetch(`${proxy.url}/orders`, { headers: { authorization: `Bearer ${caller}` } });
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(headerValues(upstream.seen.at(-1)!.rawHeaders, 'x-auth-subject'), ['system:serviceaccount:shop:web']);
      assert.ok(kube.authorizations.length >= 2, 'discovery and JWKS were fetched');
      assert.ok(
        kube.authorizations.every((a) => a === 'Bearer pod-sa-token'),
        'with the Pod token',
      );

      // Another issuer is fetched without the Pod's credentials.
      const other = await sign(external, 'alice');
      const res2 = await fetch(`${proxy.url}/orders`, { headers: { authorization: `Bearer ${other}` } });
      assert.equal(res2.status, 200);
      assert.ok(external.authorizations.length >= 2);
      assert.ok(
        external.authorizations.every((a) => a === undefined),
        'the ServiceAccount token never leaves for another issuer',
      );
    } finally {
      await Promise.all([proxy.close(), upstream.close()]);
    }
  });

  it('answers 503, not 401, when the API server refuses the Pod token (the caller did nothing wrong)', async () => {
    const wrongToken = join(dir, 'wrong-token');
    await writeFile(wrongToken, 'not-the-token');
    const upstream = await startEchoUpstream();
    const proxy = await startProxy({
      upstream: upstream.url,
      issuers: [],
      audiences: ['idgate'],
      kubernetesIssuer: kube.issuer,
      kubernetesCaFile: caFile,
      kubernetesTokenFile: wrongToken,
    });
    try {
      const res = await fetch(`${proxy.url}/orders`, { headers: { authorization: `Bearer ${await sign(kube, 'system:serviceaccount:shop:web')}` } });
      assert.equal(res.status, 503);
      assert.equal(upstream.seen.length, 0);
    } finally {
      await Promise.all([proxy.close(), upstream.close()]);
    }
  });

  it('refuses a plain http:// Kubernetes issuer at start-up, naming the flag', async () => {
    const { buildProxyConfig } = await import('../../src/proxy/config.ts');
    assert.throws(
      () => buildProxyConfig({ upstream: 'http://127.0.0.1:8080', issuers: [], audiences: ['idgate'], kubernetesIssuer: 'http://kubernetes.default.svc' }),
      /--kubernetes-issuer/,
    );
  });
});
