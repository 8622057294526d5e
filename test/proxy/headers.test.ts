import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { downstreamHeaders, upstreamHeaders } from '../../src/proxy/headers.ts';

describe('upstreamHeaders', () => {
  const raw = [
    'Host', 'app.local',
    'Authorization', 'Bearer t',
    'X-Auth-Subject', 'forged-1',
    'x-auth-subject', 'forged-2',
    'X-AUTH-GROUPS', 'admins',
    'Connection', 'keep-alive, X-Conn-Named',
    'X-Conn-Named', 'drop me',
    'Keep-Alive', 'timeout=5',
    'Proxy-Authorization', 'Basic xyz',
    'Proxy-Connection', 'keep-alive',
    'TE', 'trailers',
    'Trailer', 'X-T',
    'Transfer-Encoding', 'chunked',
    'Upgrade', 'h2c',
    'Expect', '100-continue',
    'Accept', 'a/b',
    'Accept', 'c/d',
    'X-Forwarded-For', '10.0.0.1',
  ];

  it('strips hop-by-hop, Connection-named and forged identity headers, and sets the identity', () => {
    const out = upstreamHeaders(raw, { identity: { subject: 'alice', groups: ['g1', 'g2'] }, stripAuthorization: false, remoteAddress: '127.0.0.1' });
    assert.deepEqual(out, {
      host: 'app.local',
      authorization: 'Bearer t',
      accept: ['a/b', 'c/d'],
      'x-forwarded-for': '10.0.0.1, 127.0.0.1',
      'x-auth-subject': 'alice',
      'x-auth-groups': 'g1,g2',
    });
  });

  it('strips identity headers on skip paths without setting them', () => {
    const out = upstreamHeaders(raw, { stripAuthorization: true });
    assert.equal(out['x-auth-subject'], undefined);
    assert.equal(out['x-auth-groups'], undefined);
    assert.equal(out.authorization, undefined, '--strip-authorization drops the token');
  });

  it('keeps Connection: upgrade and Upgrade for an upgrade request', () => {
    const out = upstreamHeaders(raw, { stripAuthorization: false, upgrade: 'websocket' });
    assert.equal(out.connection, 'upgrade');
    assert.equal(out.upgrade, 'websocket');
  });
});

describe('downstreamHeaders', () => {
  it('drops hop-by-hop headers of the response and keeps repeated Set-Cookie', () => {
    const out = downstreamHeaders([
      'Content-Type', 'text/plain',
      'Set-Cookie', 'a=1',
      'Set-Cookie', 'b=2',
      'Connection', 'X-Internal',
      'X-Internal', 'secret',
      'Transfer-Encoding', 'chunked',
      'Keep-Alive', 'timeout=5',
    ]);
    assert.deepEqual(out, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });
  it('keeps Connection and Upgrade on a 101', () => {
    assert.deepEqual(downstreamHeaders(['Upgrade', 'websocket', 'Connection', 'Upgrade'], { upgrade: true }), ['Upgrade', 'websocket', 'Connection', 'Upgrade']);
  });
});
