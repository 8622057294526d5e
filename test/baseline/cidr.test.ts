import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coversEveryAddress, parseCidr } from '../../src/baseline/rules/cidr.ts';

describe('parseCidr', () => {
  const cases: Array<[string, { family: 4 | 6; first: bigint; last: bigint } | undefined]> = [
    ['10.0.0.0/8', { family: 4, first: 0x0a000000n, last: 0x0affffffn }],
    ['10.1.2.3/8', { family: 4, first: 0x0a000000n, last: 0x0affffffn }],
    ['192.168.1.7/32', { family: 4, first: 0xc0a80107n, last: 0xc0a80107n }],
    ['0.0.0.0/0', { family: 4, first: 0n, last: 0xffffffffn }],
    [' 172.16.0.0/12 ', { family: 4, first: 0xac100000n, last: 0xac1fffffn }],
    ['::/0', { family: 6, first: 0n, last: (1n << 128n) - 1n }],
    ['2001:db8::/32', { family: 6, first: 0x20010db8n << 96n, last: (0x20010db8n << 96n) + (1n << 96n) - 1n }],
    ['fe80::1/128', { family: 6, first: (0xfe80n << 112n) + 1n, last: (0xfe80n << 112n) + 1n }],
    ['::ffff:10.0.0.1/128', { family: 6, first: (0xffffn << 32n) + 0x0a000001n, last: (0xffffn << 32n) + 0x0a000001n }],
    ['1:2:3:4:5:6:7:8/128', { family: 6, first: 0x00010002000300040005000600070008n, last: 0x00010002000300040005000600070008n }],
    ['10.0.0.0/33', undefined],
    ['10.0.0.0', undefined],
    ['10.0.0.0/8/8', undefined],
    ['10.0.0/8', undefined],
    ['::/129', undefined],
    ['example.com/8', undefined],
    ['10.0.0.0/-1', undefined],
  ];
  for (const [cidr, expected] of cases) {
    it(`${JSON.stringify(cidr)} → ${expected ? `${expected.first.toString(16)}..${expected.last.toString(16)}` : 'not a CIDR'}`, () => {
      assert.deepEqual(parseCidr(cidr), expected);
    });
  }
});

describe('coversEveryAddress', () => {
  const ranges = (...cidrs: string[]) => cidrs.map((c) => parseCidr(c)!);
  it('is true for /0 and for halves and quarters in any order, overlaps included', () => {
    assert.equal(coversEveryAddress(ranges('0.0.0.0/0'), 4), true);
    assert.equal(coversEveryAddress(ranges('128.0.0.0/1', '0.0.0.0/1'), 4), true);
    assert.equal(coversEveryAddress(ranges('192.0.0.0/2', '0.0.0.0/2', '64.0.0.0/2', '10.0.0.0/8', '128.0.0.0/2'), 4), true);
    assert.equal(coversEveryAddress(ranges('::/1', '8000::/1'), 6), true);
  });
  it('is false with a gap, at either end, or for the other family', () => {
    assert.equal(coversEveryAddress(ranges('0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/3'), 4), false);
    assert.equal(coversEveryAddress(ranges('0.0.0.0/2', '128.0.0.0/1'), 4), false);
    assert.equal(
      coversEveryAddress(ranges('1.0.0.0/8', '128.0.0.0/1', '0.0.0.0/8', '2.0.0.0/7', '4.0.0.0/6', '8.0.0.0/5', '16.0.0.0/4', '32.0.0.0/3'), 4),
      false,
    );
    assert.equal(coversEveryAddress(ranges('0.0.0.0/0'), 6), false);
    assert.equal(coversEveryAddress([], 4), false);
  });
});
