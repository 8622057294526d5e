/** The process logger: pino JSON on stdout, secrets redacted by path, written in batches. */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

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

/**
 * Batching of stdout: every admission decision is one log line (docs/design.md#admission-path).
 * pino's default stdout destination hands each line to libuv's thread pool, a thread round trip
 * per line or two at one line per request: 10-22 µs of CPU per line against 6-10 batched
 * (BENCHMARKS.md, "The levers taken", bench/log-line.ts). Lines gather in memory and are
 * written, synchronously and in order, once BATCH_BYTES are waiting (about ten decisions), every
 * FLUSH_MS (so no line waits longer), on `logger.flush()` (the shutdown path calls it before
 * `process.exit`) and when the process exits. Writes stay synchronous so an exit never races a write still in flight; only a
 * SIGKILL or a crash of V8 itself can lose the lines of the last FLUSH_MS.
 */
const BATCH_BYTES = 4096;
const FLUSH_MS = 100;

let stdout: (DestinationStream & { flushSync(): void }) | undefined;

/** Writes every waiting line to stdout now (`logger.flush()` does the same through pino). */
function flushLogs(): void {
  stdout?.flushSync();
}

function batchedStdout(): DestinationStream {
  if (!stdout) {
    stdout = pino.destination({ dest: 1, sync: true, minLength: BATCH_BYTES, periodicFlush: FLUSH_MS });
    process.once('exit', flushLogs);
  }
  return stdout;
}

/**
 * The process logger; `destination` defaults to stdout, batched (tests pass a stream).
 * `service` names the program on every line. It is not pino's `name`: the decision line's
 * `name` is the reviewed object's (docs/design.md#admission-path), and a line with the key twice
 * is refused whole by strict JSON readers (Elasticsearch's, for one) while others keep either.
 */
export function createLogger(level: LevelWithSilent = 'info', service = 'idgate', destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid, service } };
  return pino(options, destination ?? batchedStdout());
}
