/** The process logger: pino JSON on stdout, secrets redacted by path. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * Tokens and key material must never reach the logs, whatever object is logged by mistake.
 * Paths cover request headers, errors carrying a request, and the fields idgate's own objects
 * use for secrets (a Secret's `data`). Explicit paths only: wildcard paths (`*.token`) cost
 * 4.4 µs on every log line, one per admission decision (7.6 vs 3.2 µs measured), while these
 * cost nothing measurable.
 */
const REDACT = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'err.headers.authorization',
  'err.request.headers.authorization',
  'err.config.headers.authorization',
  'token',
  'key',
  'cert',
  'tls.key',
  'data["tls.key"]',
  'data["ca.key"]',
  'secret.data["tls.key"]',
  'secret.data["ca.key"]',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The process logger; `destination` defaults to stdout (tests pass a stream). */
export function createLogger(level: LevelWithSilent = 'info', name = 'idgate', destination?: NodeJS.WritableStream): Logger {
  const options = { name, level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } };
  return destination ? pino(options, destination) : pino(options);
}
