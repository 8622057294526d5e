/**
 * Fault: the identity provider's JWKS endpoint fails (issue 14). The provider is the real one
 * (oidc-provider); between it and the proxy sits a switch that, when on, turns every JWKS
 * answer into a 500 (the request still reaches the provider, which counts it). The proxy's
 * clock is the test's, moved forward a second per request, so backoff and key age play out
 * as they would over minutes and days, with no sleeping.
 *
 * It must show: 50 requests against a failing JWKS cause a handful of fetches at most, whatever
 * the requests carry (valid tokens, forged unknown `kid`s); valid tokens are still served from
 * the last good keys, for a bounded time (24 h); and the proxy recovers once the JWKS does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { FetchLike } from '../../src/proxy/verifier.ts';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { startEchoUpstream, startProxy, type Echo, type Running, type RunningProxy } from '../proxy/helpers.ts';

const AUDIENCE = 'urn:idgate:test-api';
const HOUR = 3_600_000;

describe('fault: a failing JWKS endpoint', () => {
  let idp: TestProvider;
  let upstream: Running & { seen: Echo[] };
  let failing = false;
  let now = Date.now();
  const faultyFetch: FetchLike = async (input, init) => {
    const res = await fetch(input, init);
    if (!failing || new URL(String(input)).pathname !== '/jwks') return res;
    await res.arrayBuffer();
    return new Response('{"error":"server_error"}', { status: 500 });
  };
  const forged = () =>
    new SignJWT({ sub: 'mallory', groups: ['payments'] })
      .setProtectedHeader({ alg: 'RS256', kid: randomUUID() })
      .setIssuer(idp.issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('3d')
      .sign(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

  before(async () => {
    // Tokens that outlive the day the clock is moved forward by.
    [idp, upstream] = await Promise.all([startTestProvider({ ttlSec: 3 * 24 * 3600 }), startEchoUpstream()]);
  });
  after(async () => {
    await Promise.all([upstream.close(), idp.close()]);
  });

  async function proxyWithFaultyJwks(): Promise<RunningProxy> {
    // No verified-token cache: every request below reaches the key lookup.
    return startProxy(
      { upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE], tokenCacheMaxEntries: 0 },
      { clock: () => now, fetch: faultyFetch },
    );
  }
  const status = async (p: RunningProxy, token: string) => {
    const res = await fetch(`${p.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  };

  it('keeps serving valid tokens from the last good keys, with a handful of fetches for 50 requests', async () => {
    failing = false;
    now = Date.now();
    const proxy = await proxyWithFaultyJwks();
    try {
      const valid = await Promise.all(Array.from({ length: 5 }, () => idp.token('payments-api')));
      assert.equal((await status(proxy, valid[0]!)).status, 200, 'keys fetched while the JWKS works');
      const fetchesBefore = idp.requests('/jwks');

      failing = true;
      now += 11 * 60_000; // the keys are now older than the 10-minute refresh age
      // A forged kid that arrives while a refresh is due waits for it; the refresh fails, and
      // since the key might be a genuinely new one, that answer is 503 (retry) rather than 401.
      const counts = { valid200: 0, forgedRefused: 0, other: 0 };
      for (let i = 0; i < 50; i++) {
        now += 1_000;
        const forgedToken = i % 2 === 1;
        const r = await status(proxy, forgedToken ? await forged() : valid[i % valid.length]!);
        if (!forgedToken && r.status === 200) counts.valid200++;
        else if (forgedToken && (r.status === 401 || r.status === 503)) counts.forgedRefused++;
        else counts.other++;
      }
      const fetches = idp.requests('/jwks') - fetchesBefore;
      console.log(
        `JWKS failing, last-good keys held: 50 requests (25 valid, 25 forged kid) over 50 s → ${fetches} JWKS fetches, ${counts.valid200} valid served 200, ${counts.forgedRefused} forged refused (401/503), ${counts.other} other`,
      );
      assert.deepEqual(counts, { valid200: 25, forgedRefused: 25, other: 0 });
      assert.ok(fetches >= 1 && fetches <= 6, `a handful of fetches (1 s backoff doubling), got ${fetches}`);

      // Past the 24 h bound the old keys are no longer trusted: 503, retryable, still no storm.
      now += 24 * HOUR;
      const stale = await status(proxy, valid[0]!);
      assert.equal(stale.status, 503, 'keys older than 24 h are not used');
      assert.ok(Number(stale.retryAfter) >= 1);
      const beyond = idp.requests('/jwks');
      for (let i = 0; i < 20; i++) assert.equal((await status(proxy, valid[i % valid.length]!)).status, 503);
      assert.equal(idp.requests('/jwks') - beyond, 0, 'no fetch during the backoff');

      // The JWKS works again: the next attempt after the backoff succeeds, once.
      failing = false;
      now += 31_000;
      const recovered = idp.requests('/jwks');
      assert.equal((await status(proxy, valid[0]!)).status, 200);
      assert.equal((await status(proxy, valid[1]!)).status, 200);
      assert.equal(idp.requests('/jwks') - recovered, 1);
      console.log(
        `JWKS failing past the 24 h bound: 503 with Retry-After ${stale.retryAfter} s, 0 fetches for 20 requests in the backoff; recovered with 1 fetch`,
      );
    } finally {
      await proxy.close();
    }
  });

  it('without any good keys yet, answers 503 with a handful of fetches for 50 requests', async () => {
    failing = true;
    now = Date.now();
    const proxy = await proxyWithFaultyJwks();
    try {
      const token = await idp.token('payments-api');
      const before = { jwks: idp.requests('/jwks'), discovery: idp.requests('/.well-known/openid-configuration') };
      const statuses = new Map<number, number>();
      for (let i = 0; i < 50; i++) {
        now += 100;
        const s = (await status(proxy, i % 2 === 0 ? token : await forged())).status;
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
      const fetches = idp.requests('/jwks') - before.jwks;
      const discoveries = idp.requests('/.well-known/openid-configuration') - before.discovery;
      console.log(
        `JWKS failing from the start: 50 requests over 5 s → ${fetches} JWKS fetches, ${discoveries} discovery fetches, answers ${JSON.stringify(Object.fromEntries(statuses))}`,
      );
      assert.deepEqual([...statuses.keys()], [503], "the provider's fault: 503, never 401 or 500");
      assert.ok(fetches >= 1 && fetches <= 5, `a handful of fetches, got ${fetches}`);
      assert.equal(discoveries, 1, 'discovery succeeded once and is not repeated');
    } finally {
      await proxy.close();
    }
  });
});
