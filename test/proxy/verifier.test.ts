/**
 * Discovery behaviour of the verifier: the discovery document must name the configured issuer,
 * failures are answered 503 (not the caller's fault) and retried with backoff, not per request.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { ProxyDenial } from '../../src/proxy/errors.ts';
import { createVerifier, discoveryUrl, type FetchLike } from '../../src/proxy/verifier.ts';

const ISSUER = 'https://issuer.example';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const token = (iss = ISSUER) =>
  new SignJWT({ sub: 'svc' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(iss).setAudience('api').setExpirationTime('5m').sign(privateKey);

function verifierWith(fetch: FetchLike, clock: () => number = Date.now) {
  return createVerifier({
    issuers: [ISSUER],
    audiences: ['api'],
    groupsClaim: 'groups',
    clockToleranceSec: 30,
    jwksCooldownMs: 30_000,
    jwksCacheMaxAgeMs: 600_000,
    jwksMaxStaleMs: 86_400_000,
    logger: pino({ level: 'silent' }),
    fetch,
    clock,
  });
}

async function denialOf(p: Promise<unknown>): Promise<ProxyDenial> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProxyDenial, String(err));
    return err;
  }
  assert.fail('expected a denial');
}

describe('verifier discovery', () => {
  it('builds the discovery URL without doubling slashes', () => {
    assert.equal(discoveryUrl('https://a.example/realms/x/'), 'https://a.example/realms/x/.well-known/openid-configuration');
  });

  it('refuses a discovery document that names another issuer (503, nothing trusted)', async () => {
    const v = verifierWith(async () => Response.json({ issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks' }));
    const d = await denialOf(v.verify(await token()));
    assert.equal(d.status, 503);
    assert.match(d.detail ?? '', /names issuer "https:\/\/evil\.example", expected "https:\/\/issuer\.example"/);
  });

  it('backs off after a failed discovery instead of fetching per request', async () => {
    let now = 1_000_000;
    const urls: string[] = [];
    const v = verifierWith(
      async (url) => {
        urls.push(String(url));
        return new Response('down', { status: 500 });
      },
      () => now,
    );
    for (let i = 0; i < 5; i++) assert.equal((await denialOf(v.verify(await token()))).status, 503);
    assert.deepEqual(urls, [discoveryUrl(ISSUER)], 'one attempt while backing off');
    now += 1_001;
    await denialOf(v.verify(await token()));
    assert.equal(urls.length, 2, 'retried once the first backoff passed');
    now += 1_001;
    const waiting = await denialOf(v.verify(await token()));
    assert.equal(urls.length, 2, 'the second backoff is longer (2 s)');
    assert.equal(waiting.retryAfterSeconds, 1, 'Retry-After says when the next attempt is due (2 s after the failure, 1 s from now)');
  });

  it('turns an unreachable JWKS into 503, not 401', async () => {
    const v = verifierWith(async (url) =>
      String(url).endsWith('openid-configuration')
        ? Response.json({ issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` })
        : Promise.reject(new TypeError('fetch failed')),
    );
    const d = await denialOf(v.verify(await token()));
    assert.equal(d.status, 503);
    assert.equal(d.code, 'IDGATE_PROXY_IDP_UNAVAILABLE');
  });

  it('never fetches anything for an untrusted issuer or a forbidden algorithm', async () => {
    let fetches = 0;
    const v = verifierWith(async () => {
      fetches++;
      return new Response('', { status: 500 });
    });
    assert.equal((await denialOf(v.verify(await token('https://other.example')))).status, 401);
    const hs = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience('api')
      .setExpirationTime('5m')
      .sign(new Uint8Array(32));
    assert.equal((await denialOf(v.verify(hs))).status, 401);
    assert.equal(fetches, 0);
  });

  it('judges nbf with the clock tolerance and accepts EdDSA, serving keys from discovery', async () => {
    const ed = generateKeyPairSync('ed25519');
    const jwk = { ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed1', alg: 'EdDSA', use: 'sig' };
    const now = 2_000_000_000_000;
    const v = verifierWith(
      async (url) =>
        String(url).endsWith('openid-configuration') ? Response.json({ issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` }) : Response.json({ keys: [jwk] }),
      () => now,
    );
    const sign = (nbfSec: number) =>
      new SignJWT({ sub: 'svc', groups: ['a'] })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'ed1' })
        .setIssuer(ISSUER)
        .setAudience('api')
        .setNotBefore(nbfSec)
        .setExpirationTime(now / 1000 + 300)
        .sign(ed.privateKey);
    const ok = await v.verify(await sign(now / 1000 + 20)); // 20 s early: within the 30 s tolerance
    assert.deepEqual({ subject: ok.subject, groups: ok.groups, expiresAt: ok.expiresAt }, { subject: 'svc', groups: ['a'], expiresAt: now + 300_000 });
    const early = await denialOf(v.verify(await sign(now / 1000 + 60)));
    assert.equal(early.status, 401);
    assert.match(early.message, /"nbf"/);
  });
});
