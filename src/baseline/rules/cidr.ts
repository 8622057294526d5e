/**
 * CIDR arithmetic for the NetworkPolicy rules: which address ranges a list of ipBlocks covers.
 * Addresses are BigInts so IPv4 (32 bits) and IPv6 (128 bits) share one code path.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface CidrRange {
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

const BITS = { 4: 32, 6: 128 } as const;

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
}

/** `2001:db8::1`, `::ffff:10.0.0.1` → 128-bit integer (the address is already known valid). */
function ipv6ToBigInt(address: string): bigint {
  let text = address;
  // A trailing dotted quad stands for the last 32 bits.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v4 = ipv4ToBigInt(quad[1]!);
    text = `${text.slice(0, quad.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/**
 * The addresses a CIDR covers, or undefined when it does not parse. Host bits are ignored, as
 * the API server's validation of ipBlock.cidr would have it (`10.0.0.1/8` is `10.0.0.0/8`).
 */
export function parseCidr(cidr: string): CidrRange | undefined {
  const [address, prefixText, extra] = cidr.trim().split('/');
  if (address === undefined || prefixText === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) return undefined;
  const bits = BITS[family];
  const prefix = Number(prefixText);
  if (prefix > bits) return undefined;
  const value = family === 4 ? ipv4ToBigInt(address) : ipv6ToBigInt(address);
  const size = 1n << BigInt(bits - prefix);
  const first = value - (value % size);
  return { family, first, last: first + size - 1n };
}

/** True when the ranges of one family, together, cover every address of that family. */
export function coversEveryAddress(ranges: readonly CidrRange[], family: 4 | 6): boolean {
  const sorted = ranges.filter((r) => r.family === family).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  let next = 0n; // the lowest address not covered yet
  for (const r of sorted) {
    if (r.first > next) return false;
    if (r.last + 1n > next) next = r.last + 1n;
  }
  return next === 1n << BigInt(BITS[family]);
}
