/** Shared flag parsers: each rejects a bad value with a message naming the flag. */
import { InvalidArgumentError, Option } from 'commander';

/** `HOST:PORT` (IPv6 as `[::1]:8443`). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`expected HOST:PORT (e.g. 0.0.0.0:8443), got "${value}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** A comma-separated list; empty items are dropped. */
export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A positive integer. */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}

/**
 * A flag that also reads its environment variable, named by the rule in docs/design.md#command-line:
 * `--tls-dir` reads `IDGATE_TLS_DIR`. Every subcommand declares its flags with this.
 */
export function option(flags: string, description: string): Option {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1];
  if (!long) throw new Error(`option ${flags} has no long name`);
  return new Option(flags, description).env(`IDGATE_${long.replace(/-/g, '_').toUpperCase()}`);
}

/** A duration: `500ms`, `30s`, `2m`, or a bare number of seconds; returns milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration such as 500ms, 30s or 2m, got "${value}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1_000;
}
