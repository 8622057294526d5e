import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyConfig, ProxyConfigError, type ProxyConfigInput } from '../../src/proxy/config.ts';
import { parseBool } from '../../src/cli/proxy.ts';
import { parseDuration } from '../../src/cli/options.ts';

const base: ProxyConfigInput = { upstream: 'http://127.0.0.1:8080', issuers: ['https://issuer.example'], audiences: ['api'] };

describe('buildProxyConfig', () => {
  it('fills documented defaults and freezes the result', () => {
    const c = buildProxyConfig(base);
    assert.equal(c.groupsClaim, 'groups');
    assert.equal(c.upstreamTimeoutMs, 30_000);
    assert.equal(c.clockToleranceSec, 30);
    assert.equal(c.jwksCooldownMs, 30_000);
    assert.equal(c.passAuthorization, false, "the caller's token stays with the proxy unless asked for");
    assert.ok(Object.isFrozen(c));
  });

  const bad: Array<{ name: string; input: ProxyConfigInput; flag: string }> = [
    { name: 'upstream not a URL', input: { ...base, upstream: '127.0.0.1:8080' }, flag: '--upstream' },
    { name: 'https upstream', input: { ...base, upstream: 'https://127.0.0.1:8443' }, flag: '--upstream' },
    { name: 'no issuer', input: { ...base, issuers: [] }, flag: '--issuer' },
    { name: 'issuer not a URL', input: { ...base, issuers: ['issuer.example'] }, flag: '--issuer' },
    { name: 'issuer with a query', input: { ...base, issuers: ['https://i.example/?x=1'] }, flag: '--issuer' },
    { name: 'no audience', input: { ...base, audiences: [] }, flag: '--audience' },
    { name: 'relative skip path', input: { ...base, skipPaths: ['healthz'] }, flag: '--skip-paths' },
    { name: 'wildcard skip path', input: { ...base, skipPaths: ['/public/*'] }, flag: '--skip-paths' },
    { name: 'empty groups claim', input: { ...base, groupsClaim: ' ' }, flag: '--groups-claim' },
    { name: 'zero upstream timeout', input: { ...base, upstreamTimeoutMs: 0 }, flag: '--upstream-timeout' },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}, naming ${c.flag}`, () => {
      assert.throws(
        () => buildProxyConfig(c.input),
        (err: unknown) => err instanceof ProxyConfigError && err.flag === c.flag && err.message.startsWith(c.flag),
      );
    });
  }
});

describe('flag parsers', () => {
  it('parses durations in ms, s, m and bare seconds', () => {
    assert.deepEqual(['250ms', '30s', '2m', '5', '1.5s'].map(parseDuration), [250, 30_000, 120_000, 5_000, 1_500]);
    assert.throws(() => parseDuration('soon'), /expected a duration/);
  });
  it('parses booleans so that "false" means false', () => {
    assert.deepEqual(['true', 'false', '1', '0', 'yes', 'no'].map(parseBool), [true, false, true, false, true, false]);
    assert.throws(() => parseBool('maybe'), /expected true or false/);
  });
});
