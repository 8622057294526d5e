/**
 * The decision log line: one pino JSON line per review (docs/design.md#admission-path).
 *
 * It is the admission path's most frequent write, so it is built here as text, in the exact
 * form `logger.info(decisionLine(...), 'admission decision')` writes, and handed to the logger's
 * own destination (in order with every other line). Going through `logger.info` cost about 7 µs
 * more per review in the server (small Pod, 127 against 118 µs of CPU, bench/ab.ts,
 * BENCHMARKS.md): the merged object, and for each of its keys the serializer and redaction
 * look-ups and the key's escaping. The prefix (level, time, the logger's bindings) and the end
 * of line are pino's own, read through `pino.symbols`, which pino exports for integrations.
 * Whenever the logger does anything this text would skip (a mixin, hooks, a log formatter, a
 * nested key, a message prefix, a stream that wants metadata, or a serializer or redaction on
 * one of the line's keys), the line goes through `logger.info` instead.
 */
import { pino, type Logger } from 'pino';
import type { AdmissionRequest, AdmissionResult } from '../admission/types.ts';

const MESSAGE = 'admission decision';
const INFO = 30;
const {
  chindingsSym,
  endSym,
  formattersSym,
  hooksSym,
  lsCacheSym,
  messageKeySym,
  mixinSym,
  needsMetadataGsym,
  nestedKeySym,
  serializersSym,
  streamSym,
  stringifiersSym,
  timeSym,
  wildcardFirstSym,
} = pino.symbols;

/** The reviewed object's name: the request's, else the object's (or old object's) name or generateName. */
function objectName(request: AdmissionRequest): string | undefined {
  const meta = request.object?.metadata ?? request.oldObject?.metadata;
  return request.name || meta?.name || meta?.generateName;
}

/** The review's duration in milliseconds, to 10 µs. */
const durationMs = (seconds: number): number => Math.round(seconds * 1e5) / 100;

/** The fields of a decision's log line. */
export function decisionLine(webhook: string, request: AdmissionRequest, result: AdmissionResult, seconds: number): Record<string, unknown> {
  return {
    webhook,
    uid: request.uid,
    kind: request.kind.kind,
    namespace: request.namespace,
    name: objectName(request),
    operation: request.operation,
    user: request.userInfo?.username,
    allowed: result.allowed,
    dryRun: request.dryRun === true,
    durationMs: durationMs(seconds),
    ...result.log,
  };
}

/** The line's own keys, in their order; a handler's `log` may not reuse them. */
const KEYS = new Set(Object.keys(decisionLine('', { uid: '', kind: { kind: '' } } as AdmissionRequest, { allowed: true }, 0)));

/** A JSON value as pino writes it: strings escaped, non-finite numbers as null, undefined left out. */
function json(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      return JSON.stringify(value);
  }
}

const field = (key: string, value: unknown): string => {
  const text = json(value);
  return text === undefined ? '' : `,"${key}":${text}`;
};

type PinoInternals = Record<symbol, unknown>;

/** Whether `key` is written by `logger.info` as is: no serializer, no redaction, nothing to escape. */
function plainKey(l: PinoInternals, key: string): boolean {
  return !(l[serializersSym] as Record<string, unknown>)[key] && !(l[stringifiersSym] as Record<string, unknown>)[key] && /^[A-Za-z0-9_]+$/.test(key);
}

/** Whether a logger writes `logger.info(fields, msg)` as its level, time, bindings, fields, msg and end, nothing else. */
function writesPlainJson(logger: Logger): boolean {
  const l = logger as unknown as PinoInternals;
  const hooks = (l[hooksSym] ?? {}) as { logMethod?: unknown; streamWrite?: unknown };
  const formatters = (l[formattersSym] ?? {}) as { log?: unknown };
  const stream = l[streamSym] as (PinoInternals & { write?: unknown }) | undefined;
  return (
    !l[mixinSym] &&
    !hooks.logMethod &&
    !hooks.streamWrite &&
    !formatters.log &&
    !l[nestedKeySym] &&
    !logger.msgPrefix &&
    l[messageKeySym] === 'msg' &&
    !(l[stringifiersSym] as PinoInternals)[wildcardFirstSym] &&
    typeof (l[lsCacheSym] as Record<number, unknown> | undefined)?.[INFO] === 'string' &&
    typeof stream?.write === 'function' &&
    stream[needsMetadataGsym] !== true &&
    [...KEYS].every((key) => plainKey(l, key))
  );
}

/** Writes the decision line of each review to a logger. */
export class DecisionLog {
  readonly #logger: Logger;
  readonly #l: PinoInternals;
  readonly #plain: boolean;
  /** Keys of handlers' `log` objects found plain (a handful: injected, reason, patchOps, violations…). */
  readonly #plainKeys = new Set<string>();

  constructor(logger: Logger) {
    this.#logger = logger;
    this.#l = logger as unknown as PinoInternals;
    this.#plain = writesPlainJson(logger);
  }

  write(webhook: string, request: AdmissionRequest, result: AdmissionResult, seconds: number): void {
    const logger = this.#logger;
    if (!logger.isLevelEnabled('info')) return;
    if (!this.#plain || !this.#plainLog(result.log)) {
      logger.info(decisionLine(webhook, request, result, seconds), MESSAGE);
      return;
    }
    const l = this.#l;
    let line = `${(l[lsCacheSym] as Record<number, string>)[INFO]}${(l[timeSym] as () => string).call(logger)}${l[chindingsSym] as string}`;
    line += `${field('webhook', webhook)}${field('uid', request.uid)}${field('kind', request.kind.kind)}${field('namespace', request.namespace)}`;
    line += `${field('name', objectName(request))}${field('operation', request.operation)}${field('user', request.userInfo?.username)}`;
    line += `,"allowed":${result.allowed ? 'true' : 'false'},"dryRun":${request.dryRun === true ? 'true' : 'false'},"durationMs":${durationMs(seconds)}`;
    for (const key in result.log) line += field(key, result.log[key]);
    (l[streamSym] as { write(s: string): void }).write(`${line},"msg":"${MESSAGE}"${l[endSym] as string}`);
  }

  /** Whether every key of a handler's `log` can be written as plain text: none of the line's own, none with a serializer, redaction or escaping. */
  #plainLog(log: Record<string, unknown> | undefined): boolean {
    for (const key in log) {
      if (this.#plainKeys.has(key)) continue;
      if (KEYS.has(key) || !plainKey(this.#l, key)) return false;
      this.#plainKeys.add(key);
    }
    return true;
  }
}
