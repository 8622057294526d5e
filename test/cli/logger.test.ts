import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/cli/logger.ts';

describe('the process logger', () => {
  it('redacts tokens, authorization headers and key material wherever idgate could log them', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      'idgate',
      new Writable({
        write: (c, _e, cb) => {
          lines.push(String(c));
          cb();
        },
      }),
    );
    const secret = 'eyJhbGciOiJSUzI1NiJ9.SECRET.SIG';
    logger.info({ authorization: `Bearer ${secret}` }, 'a');
    logger.info({ headers: { authorization: `Bearer ${secret}` } }, 'b');
    logger.info({ req: { headers: { authorization: `Bearer ${secret}`, host: 'x' } } }, 'c');
    logger.info({ err: { message: 'failed', request: { headers: { authorization: `Bearer ${secret}` } } } }, 'd');
    logger.info({ token: secret, key: '-----BEGIN PRIVATE KEY-----', cert: '-----BEGIN CERTIFICATE-----' }, 'e');
    logger.info({ data: { 'tls.key': '-----BEGIN PRIVATE KEY-----', 'ca.key': '-----BEGIN PRIVATE KEY-----', 'tls.crt': 'public' } }, 'f');
    assert.equal(lines.length, 6);
    for (const line of lines) {
      assert.doesNotMatch(line, /SECRET|BEGIN PRIVATE KEY|BEGIN CERTIFICATE/, line);
      assert.match(line, /\[redacted\]/);
    }
    assert.match(lines[2]!, /"host":"x"/, 'only the secret is removed');
    assert.match(lines[5]!, /"tls.crt":"public"/);
  });
});
