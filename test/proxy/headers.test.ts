import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { downstreamHeaders, upstreamHeaders } from '../../src/proxy/headers.ts';

describe('upstreamHeaders', () => {
  const raw = [
    'Host',
    'app.local',
    'Authorization',
    'Bearer t',
    'X-Auth-Subject',
    'forged-1',
    'x-auth-subject',
    'forged-2',
    'X-AUTH-GROUPS',
    'admins',
    'Connection',
    'keep-alive, X-Conn-Named',
    'X-Conn-Named',
    'drop me',
    'Keep-Alive',
    'timeout=5',
    'Proxy-Authorization',
    'Basic xyz',
    'Proxy-Connection',
    'keep-alive',
    'TE',
    'trailers',
    'Trailer',
    'X-T',
    'Transfer-Encoding',
    'chunked',
    'Upgrade',
    'h2c',
    'Expect',
    '100-continue',
    'Accept',
    'a/b',
    'Accept',
    'c/d',
    'X-Forwarded-For',
    '10.0.0.1',
  ];

  it('strips hop-by-hop, Connection-named, forged identity and forwarding headers, and sets its own', () => {
    const out = upstreamHeaders(raw, { identity: { subject: 'alice', groups: 'g1,g2' }, passAuthorization: false, remoteAddress: '::ffff:10.0.0.9' });
    assert.deepEqual(out, {
      host: 'app.local',
      accept: ['a/b', 'c/d'],
      'x-forwarded-for': '10.0.0.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'app.local',
      'x-auth-subject': 'alice',
      'x-auth-groups': 'g1,g2',
    });
  });

  it('strips identity headers on skip paths without setting them, and passes Authorization only when asked', () => {
    const out = upstreamHeaders(raw, { passAuthorization: true });
    assert.equal(out['x-auth-subject'], undefined);
    assert.equal(out['x-auth-groups'], undefined);
    assert.equal(out.authorization, 'Bearer t', '--pass-authorization keeps the token');
  });

  it('keeps Connection: upgrade and Upgrade for an upgrade request', () => {
    const out = upstreamHeaders(raw, { passAuthorization: false, upgrade: 'websocket' });
    assert.equal(out.connection, 'upgrade');
    assert.equal(out.upgrade, 'websocket');
  });

  const identityLike = [
    'X-Forwarded-User',
    'X-Auth-Request-Email',
    'X-Remote-Group',
    'Impersonate-User',
    'Forwarded',
    'X-Real-IP',
    'X-Original-URL',
    'Remote-User',
    'X-Amzn-Oidc-Identity',
    'X_Custom_Thing',
    'X.Auth.Subject',
  ];
  for (const name of identityLike) {
    it(`drops a caller's ${name}`, () => {
      assert.deepEqual(Object.keys(upstreamHeaders([name, 'root', 'Accept', '*/*'], { passAuthorization: false })).sort(), ['accept', 'x-forwarded-proto']);
    });
  }
});

describe('downstreamHeaders', () => {
  it('drops hop-by-hop headers of the response and keeps repeated Set-Cookie', () => {
    const out = downstreamHeaders([
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Connection',
      'X-Internal',
      'X-Internal',
      'secret',
      'Transfer-Encoding',
      'chunked',
      'Keep-Alive',
      'timeout=5',
    ]);
    assert.deepEqual(out, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });
  it('keeps Connection and Upgrade on a 101', () => {
    assert.deepEqual(downstreamHeaders(['Upgrade', 'websocket', 'Connection', 'Upgrade'], { upgrade: true }), [
      'Upgrade',
      'websocket',
      'Connection',
      'Upgrade',
    ]);
  });
});
