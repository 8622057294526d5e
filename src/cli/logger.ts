/** The process logger: pino JSON on stdout, secrets redacted by path. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * Tokens and key material must never reach the logs, whatever object is logged by mistake.
 * Paths cover request headers and the fields idgate's own objects use for secrets.
 */
const REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'key',
  '*.key',
  'cert',
  '*.cert',
  'tls.key',
  'data["tls.key"]',
  '*.data["tls.key"]',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(level: LevelWithSilent = 'info', name = 'idgate'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } });
}
