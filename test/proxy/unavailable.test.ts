/** The identity provider down: 503 with a Retry-After that follows the discovery backoff, never 401. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestProvider } from '../support/oidc-provider.ts';
import { startEchoUpstream, startProxy } from './helpers.ts';

const AUDIENCE = 'api';

describe('identity provider unavailable', () => {
  it('answers 503 temporarily_unavailable with Retry-After, and the upstream sees nothing', async () => {
    const idp = await startTestProvider();
    const token = await idp.token('payments-api');
    await idp.close(); // discovery will fail: connection refused
    const upstream = await startEchoUpstream();
    const proxy = await startProxy({ upstream: upstream.url, issuers: [idp.issuer], audiences: [AUDIENCE] });
    try {
      for (const expected of ['1', '1']) {
        const res = await fetch(`${proxy.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 503);
        assert.equal(res.headers.get('retry-after'), expected, 'first backoff: 1 s');
        assert.equal(res.headers.get('www-authenticate'), null, 'not a token problem');
        const body = (await res.json()) as { error: string; code: string };
        assert.equal(body.error, 'temporarily_unavailable');
        assert.equal(body.code, 'IDGATE_PROXY_IDP_UNAVAILABLE');
      }
      assert.equal(upstream.seen.length, 0);
    } finally {
      await Promise.all([proxy.close(), upstream.close()]);
    }
  });
});
