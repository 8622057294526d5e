/**
 * Key rotation at a real OIDC provider: a token signed with the new key is accepted without
 * restarting the proxy, and the JWKS endpoint is fetched only as often as the cooldown allows.
 *
 * jose's remote JWKS measures its cooldown with Date.now(), so the test mocks Date (only Date:
 * timers and I/O stay real) and moves time forward explicitly instead of sleeping.
 */
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { startEchoUpstream, startProxy, type Echo, type Running, type RunningProxy } from './helpers.ts';

const AUDIENCE = 'urn:idgate:test-api';
const COOLDOWN_MS = 30_000;

describe('JWKS refresh on key rotation', () => {
  let idp: TestProvider;
  let upstream: Running & { seen: Echo[] };
  let proxy: RunningProxy;

  before(async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    [idp, upstream] = await Promise.all([startTestProvider(), startEchoUpstream()]);
    proxy = await startProxy({ upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE], jwksCooldownMs: COOLDOWN_MS, tokenCacheMaxEntries: 0 });
  });
  after(async () => {
    mock.timers.reset();
    await Promise.all([proxy.close(), upstream.close(), idp.close()]);
  });

  const status = async (token: string) => (await fetch(`${proxy.url}/x`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('fetches the JWKS once for many requests', async () => {
    const token = await idp.token('payments-api');
    for (let i = 0; i < 5; i++) assert.equal(await status(token), 200);
    assert.equal(idp.requests('/jwks'), 1);
    assert.equal(idp.requests('/.well-known/openid-configuration'), 1);
  });

  it('accepts a token signed with a rotated-in key, refetching the JWKS once', async () => {
    mock.timers.tick(COOLDOWN_MS + 1); // the last fetch is older than the cooldown, as in real life
    const oldKid = idp.kids[0];
    await idp.rotateKeys();
    const token = await idp.token('payments-api');
    assert.notEqual(decodeProtectedHeader(token).kid, oldKid, 'the provider signs with the new key');
    assert.equal(await status(token), 200);
    assert.equal(await status(token), 200);
    assert.equal(idp.requests('/jwks'), 2);
    assert.equal(await proxy.metric('idgate_proxy_jwks_fetches_total', { issuer: idp.issuer, outcome: 'ok' }), 2);
  });

  it('does not let unknown kids trigger more than one fetch per cooldown', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forge = () =>
      new SignJWT({ sub: 'mallory', groups: ['payments'] })
        .setProtectedHeader({ alg: 'RS256', kid: randomUUID() })
        .setIssuer(idp.issuer)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    // Within the cooldown of the fetch above: ten unknown kids, no fetch at all.
    for (let i = 0; i < 10; i++) assert.equal(await status(await forge()), 401);
    assert.equal(idp.requests('/jwks'), 2);
    // Once the cooldown has passed, one more fetch, and the forged tokens are still refused.
    mock.timers.tick(COOLDOWN_MS + 1);
    for (let i = 0; i < 10; i++) assert.equal(await status(await forge()), 401);
    assert.equal(idp.requests('/jwks'), 3);
    // Genuine tokens keep working throughout.
    assert.equal(await status(await idp.token('payments-api')), 200);
    assert.equal(idp.requests('/jwks'), 3);
  });
});
