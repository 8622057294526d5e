/**
 * The proxy against a real OIDC provider (oidc-provider v9 on loopback): real JWT access tokens
 * are accepted, and every way a token can be wrong is refused with the right status and body.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { eventually } from '../support/eventually.ts';
import { headerValues, startEchoUpstream, startProxy, type Echo, type Running, type RunningProxy } from './helpers.ts';

const AUDIENCE = 'urn:idgate:test-api';
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function call(proxy: Running, authorization?: string, path = '/orders') {
  const res = await fetch(proxy.url + path, { headers: authorization === undefined ? {} : { authorization } });
  const text = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: JSON.parse(text) as Record<string, unknown> };
}

describe('proxy authentication against a real OIDC provider', () => {
  let idp: TestProvider;
  let otherIdp: TestProvider;
  let upstream: Running & { seen: Echo[] };
  let proxy: RunningProxy;

  before(async () => {
    [idp, otherIdp, upstream] = await Promise.all([startTestProvider(), startTestProvider(), startEchoUpstream()]);
    proxy = await startProxy({ upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE], allowedGroups: ['payments'] });
  });
  after(async () => {
    await Promise.all([proxy.close(), upstream.close(), idp.close(), otherIdp.close()]);
  });

  it('accepts a token the provider issued and forwards the verified identity', async () => {
    const token = await idp.token('payments-api');
    const r = await call(proxy, `Bearer ${token}`);
    assert.equal(r.status, 200);
    const echo = r.body as unknown as Echo;
    assert.deepEqual(headerValues(echo.rawHeaders, 'x-auth-subject'), ['payments-api']);
    assert.deepEqual(headerValues(echo.rawHeaders, 'x-auth-groups'), ['payments,readers']);
  });

  // Forgeries built from a genuine token, each one a known attack on JWT verifiers.
  const forged: Record<string, () => Promise<string>> = {
    'unsigned (alg none)': async () => {
      const [, payload] = (await idp.token('payments-api')).split('.');
      return `${b64url({ alg: 'none', typ: 'at+jwt' })}.${payload}.`;
    },
    'HS256 signed with the public key': async () => {
      const genuine = await idp.token('reports-job');
      const { kid } = decodeProtectedHeader(genuine);
      const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      const jwk = jwks.keys.find((k) => k.kid === kid)!;
      const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      return new SignJWT({ ...decodeJwt(genuine), groups: ['payments'] })
        .setProtectedHeader({ alg: 'HS256', kid })
        .sign(new TextEncoder().encode(pem as string));
    },
    'tampered payload (groups escalated, signature kept)': async () => {
      const [header, payload, signature] = (await idp.token('reports-job')).split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      return `${header}.${b64url({ ...claims, groups: ['payments'] })}.${signature}`;
    },
  };

  const refusals: Array<{ name: string; token: () => Promise<string>; message: RegExp }> = [
    { name: 'wrong audience', token: () => idp.token('payments-api', 'urn:some-other-api'), message: /"aud"/ },
    { name: 'wrong issuer (another real provider)', token: () => otherIdp.token('payments-api'), message: /^the token's issuer is not trusted$/ },
    { name: 'unsigned (alg none)', token: forged['unsigned (alg none)']!, message: /^the token's algorithm is not allowed$/ },
    { name: 'HS256 signed with the public key', token: forged['HS256 signed with the public key']!, message: /^the token's algorithm is not allowed$/ },
    { name: 'tampered payload', token: forged['tampered payload (groups escalated, signature kept)']!, message: /signature verification failed/ },
    { name: 'not a JWT at all', token: async () => 'abc.def', message: /not a well-formed JWT/ },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} with 401 invalid_token`, async () => {
      const before = upstream.seen.length;
      const r = await call(proxy, `Bearer ${await c.token()}`);
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_token');
      assert.equal(r.body.code, 'IDGATE_PROXY_INVALID_TOKEN');
      assert.match(String(r.body.message), c.message);
      assert.match(r.challenge ?? '', /^Bearer realm="idgate", error="invalid_token", error_description="/);
      assert.equal(upstream.seen.length, before, 'the upstream never saw the request');
    });
  }

  it('refuses a request without a token with a bare Bearer challenge', async () => {
    const r = await call(proxy);
    assert.equal(r.status, 401);
    assert.equal(r.challenge, 'Bearer realm="idgate"');
    assert.equal(r.body.error, 'unauthorized');
  });

  it('treats another scheme (Basic) as no bearer token', async () => {
    const r = await call(proxy, 'Basic dXNlcjpwYXNz');
    assert.equal(r.status, 401);
    assert.equal(r.challenge, 'Bearer realm="idgate"');
  });

  it('refuses a valid token without an allowed group with 403 insufficient_scope', async () => {
    const r = await call(proxy, `Bearer ${await idp.token('reports-job')}`);
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'insufficient_scope');
    assert.equal(r.body.code, 'IDGATE_PROXY_FORBIDDEN');
    assert.match(r.challenge ?? '', /error="insufficient_scope"/);
    const none = await call(proxy, `Bearer ${await idp.token('no-groups')}`);
    assert.equal(none.status, 403);
  });

  it('serves a repeated token from the verified-token cache', async () => {
    const token = await idp.token('payments-api');
    const hits = await proxy.metric('idgate_proxy_token_cache_lookups_total', { result: 'hit' });
    assert.equal((await call(proxy, `Bearer ${token}`)).status, 200);
    assert.equal((await call(proxy, `Bearer ${token}`)).status, 200);
    assert.equal(await proxy.metric('idgate_proxy_token_cache_lookups_total', { result: 'hit' }), hits + 1);
    assert.ok((await proxy.metric('idgate_proxy_requests_total', { decision: 'forbidden' })) >= 2);
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    assert.match(text, /idgate_proxy_jwks_fetches_total\{issuer="http:\/\/127\.0\.0\.1:\d+",outcome="ok"\} 1/);
  });

  it('verifies a burst of requests with the same new token once', async () => {
    // Every fetch (discovery, JWKS) is held until all the requests are waiting on a verification,
    // so they certainly overlap: 8 with token A and 4 with token B make two verifications.
    let gate = false;
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const p = await startProxy(
      { upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE], allowedGroups: ['payments'] },
      {
        fetch: async (input, init) => {
          if (gate) await opened;
          return fetch(input, init);
        },
      },
    );
    let answers: Array<Promise<unknown>> = [];
    try {
      const [a, b] = [await idp.token('payments-api'), await idp.token('payments-api')];
      assert.notEqual(a, b);
      gate = true;
      const lookups = async () =>
        (await p.metric('idgate_proxy_token_cache_lookups_total', { result: 'miss' })) +
        (await p.metric('idgate_proxy_token_cache_lookups_total', { result: 'coalesced' }));
      const calls = [...Array(8).fill(a), ...Array(4).fill(b)].map((token) => call(p, `Bearer ${token}`));
      answers = calls;
      await eventually(async () => (await lookups()) === 12, 5000, 'all 12 requests waiting on a verification');
      open();
      assert.deepEqual(
        (await Promise.all(calls)).map((r) => r.status),
        Array(12).fill(200),
      );
      assert.equal(await p.metric('idgate_proxy_token_cache_lookups_total', { result: 'miss' }), 2);
      assert.equal(await p.metric('idgate_proxy_token_cache_lookups_total', { result: 'coalesced' }), 10);
      const text = await (await fetch(`${p.url}/metrics`)).text();
      assert.match(text, /^idgate_proxy_token_verification_seconds_count\{result="valid"\} 2$/m);
      // Settled verifications are not shared: the next request is a plain cache hit.
      assert.equal((await call(p, `Bearer ${a}`)).status, 200);
      assert.equal(await p.metric('idgate_proxy_token_cache_lookups_total', { result: 'hit' }), 1);
    } finally {
      open();
      await Promise.allSettled(answers);
      await p.close();
    }
  });

  it('refuses an expired token, and does not keep serving it from the cache past its exp', async () => {
    let now = Date.now();
    const p = await startProxy({ upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE] }, { clock: () => now });
    try {
      const token = await idp.token('payments-api');
      assert.equal((await call(p, `Bearer ${token}`)).status, 200);
      now = decodeJwt(token).exp! * 1000 + 31_000; // past exp plus the 30 s clock tolerance
      const r = await call(p, `Bearer ${token}`);
      assert.equal(r.status, 401);
      assert.equal(r.body.message, 'token expired');
      assert.match(r.challenge ?? '', /error="invalid_token"/);
    } finally {
      await p.close();
    }
  });

  it('accepts a token within the clock tolerance after exp', async () => {
    const token = await idp.token('payments-api');
    const p = await startProxy(
      { upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE] },
      { clock: () => decodeJwt(token).exp! * 1000 + 20_000 },
    );
    try {
      assert.equal((await call(p, `Bearer ${token}`)).status, 200);
    } finally {
      await p.close();
    }
  });

  it('trusts every issuer in the list', async () => {
    const p = await startProxy({ upstream: upstream.url, issuers: [idp.issuer, otherIdp.issuer], audiences: [AUDIENCE] });
    try {
      assert.equal((await call(p, `Bearer ${await otherIdp.token('reports-job')}`)).status, 200);
      assert.equal((await call(p, `Bearer ${await idp.token('reports-job')}`)).status, 200);
    } finally {
      await p.close();
    }
  });

  it('reads groups from a configured claim path', async () => {
    // oidc-provider puts groups in `groups`; a path that does not resolve leaves the caller groupless.
    const p = await startProxy({
      upstream: upstream.url,
      issuers: [idp.issuer],
      audiences: [AUDIENCE],
      allowedGroups: ['payments'],
      groupsClaim: 'realm_access.roles',
    });
    try {
      assert.equal((await call(p, `Bearer ${await idp.token('payments-api')}`)).status, 403);
    } finally {
      await p.close();
    }
  });
});
