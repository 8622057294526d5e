/**
 * Loads the IdentityBaseline file (docs/design.md#baseline): YAML → JSON Schema validation with defaults
 * → a deeply frozen {@link Baseline}. Every problem is reported at once, each with the file,
 * line and dotted field path, so a user fixes the file in one pass:
 * `examples/baseline.yaml:12: sidecar.port: must be 1-65535`.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { BASELINE_SCHEMA, type Baseline, type BaselineFile } from '../config/baseline.ts';

/** One problem in a baseline file. */
export interface BaselineProblem {
  /** Dotted field path (`sidecar.port`, `namespaces.payments.allowedGroups[0]`); '' for the whole file. */
  readonly path: string;
  /** 1-based line in the file, when known. */
  readonly line?: number;
  readonly message: string;
}

/** Stable error codes of {@link BaselineError}. */
export type BaselineErrorCode = 'ERR_BASELINE_READ' | 'ERR_BASELINE_YAML' | 'ERR_BASELINE_INVALID';

/** A baseline file that cannot be used; `message` lists every problem, one per line. */
export class BaselineError extends Error {
  readonly code: BaselineErrorCode;
  readonly file: string;
  readonly problems: readonly BaselineProblem[];

  constructor(code: BaselineErrorCode, file: string, problems: readonly BaselineProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'BaselineError';
    this.code = code;
    this.file = file;
    this.problems = problems;
  }
}

/** `file:line: path: message`, the format compilers use, so editors can jump to it. */
export function formatProblem(file: string, p: BaselineProblem): string {
  const where = p.line === undefined ? file : `${file}:${p.line}`;
  return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, strictTypes: false });
const validate = ajv.compile<BaselineFile>(BASELINE_SCHEMA);

/**
 * Parses and validates baseline YAML. `file` only names the source in messages.
 * @throws BaselineError listing every problem.
 */
export function parseBaseline(text: string, file: string): Baseline {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new BaselineError(
      'ERR_BASELINE_YAML',
      file,
      doc.errors.map((e) => ({
        path: '',
        line: lineCounter.linePos(e.pos[0]).line,
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    throw new BaselineError('ERR_BASELINE_INVALID', file, [
      {
        path: '',
        line: 1,
        message: 'expected an IdentityBaseline mapping (apiVersion: idgate.dev/v1alpha1, kind: IdentityBaseline)',
      },
    ]);
  }
  if (!validate(data)) {
    const problems = dedupe((validate.errors ?? []).filter((e) => e.keyword !== 'propertyNames').map((e) => toProblem(e, doc, lineCounter))).sort(
      (a, b) => (a.line ?? 0) - (b.line ?? 0),
    );
    throw new BaselineError('ERR_BASELINE_INVALID', file, problems);
  }
  return build(data);
}

/**
 * Reads a baseline file's text.
 * @throws BaselineError `ERR_BASELINE_READ` naming the file when it cannot be read.
 */
export function readBaselineText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new BaselineError('ERR_BASELINE_READ', file, [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
}

/**
 * Reads and parses a baseline file.
 * @throws BaselineError (`ERR_BASELINE_READ` when the file cannot be read).
 */
export function loadBaseline(file: string): Baseline {
  return parseBaseline(readBaselineText(file), file);
}

function build(data: BaselineFile): Baseline {
  const sidecar = { ...data.sidecar, issuers: data.sidecar.issuers ?? [...data.trustedIssuers] };
  return deepFreeze({ ...data, sidecar, trustedIssuerSet: new Set(data.trustedIssuers) });
}

function deepFreeze<T>(value: T): T {
  // A Set stays mutable under Object.freeze; its ReadonlySet type is what keeps callers honest.
  if (value === null || typeof value !== 'object' || value instanceof Set || Object.isFrozen(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

function dedupe(problems: BaselineProblem[]): BaselineProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.line}\u0000${p.path}\u0000${p.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/** Splits an ajv instancePath (a JSON Pointer, RFC 6901) into keys and indices. */
function pointerSegments(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => {
      const key = s.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : key;
    });
}

/** `sidecar.port`, `trustedIssuers[0]`, `rules[my.rule]` (keys that are not identifiers go in brackets). */
export function dottedPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][-A-Za-z0-9_]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${s}]`;
  }
  return out;
}

/** 1-based line of the node at `segments` (or of its key when `key` is set), else of the nearest ancestor. */
function lineOf(doc: Document, lc: LineCounter, segments: ReadonlyArray<string | number>, key?: string): number | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
    if (node === undefined || node === null || typeof node !== 'object' || !('range' in node)) continue;
    if (key !== undefined && n === segments.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      const range = isScalar(pair?.key) ? pair.key.range : undefined;
      if (range) return lc.linePos(range[0]).line;
    }
    const range = (node as { range?: [number, number, number] | null }).range;
    if (range) return lc.linePos(range[0]).line;
  }
  return undefined;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
};

const PATTERN_MESSAGES: Array<[RegExp, string]> = [
  [/https/, 'must be an https:// issuer URL (http:// only for localhost) without query or fragment'],
  [/a-z0-9\]\(\[-a-z0-9\]/, 'must be a Namespace name (lowercase letters, digits and -, at most 63 characters)'],
  [/KMGTPE/, 'must be a Kubernetes quantity such as 10m, 1, 32Mi or 1Gi'],
  [/\\S\+/, 'must not contain spaces'],
];

function toProblem(e: ErrorObject, doc: Document, lc: LineCounter): BaselineProblem {
  const segments = pointerSegments(e.instancePath);
  const params = e.params as Record<string, unknown>;
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  const propertyName = (e as { propertyName?: string }).propertyName;
  if (e.keyword === 'required') {
    const missing = String(params.missingProperty);
    // The line of the mapping's own key (`sidecar:`), where the missing field belongs.
    const last = segments.at(-1);
    const line = typeof last === 'string' ? lineOf(doc, lc, segments.slice(0, -1), last) : lineOf(doc, lc, segments);
    return { path: dottedPath([...segments, missing]), line: line ?? 1, message: 'is required' };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = String(params.additionalProperty);
    const known = Object.keys((parent?.properties as object | undefined) ?? {});
    return {
      path: dottedPath([...segments, extra]),
      line: lineOf(doc, lc, segments, extra),
      message: `unknown field${known.length > 0 ? `; expected one of: ${known.join(', ')}` : ''}`,
    };
  }
  if (propertyName !== undefined) {
    // propertyNames: the key itself is wrong (an unknown rule id, a bad namespace name).
    const message =
      e.keyword === 'enum'
        ? `unknown rule id; known rules: ${(e.schema as string[]).join(', ')}`
        : (patternMessage(String(params.pattern ?? '')) ?? e.message ?? 'invalid');
    return { path: dottedPath([...segments, propertyName]), line: lineOf(doc, lc, segments, propertyName), message };
  }
  const path = dottedPath(segments);
  const line = lineOf(doc, lc, segments);
  switch (e.keyword) {
    case 'enum':
      return { path, line, message: `must be one of: ${(params.allowedValues as unknown[]).join(', ')}` };
    case 'const': {
      // A const with a description says why only that value is allowed.
      const why = typeof parent?.description === 'string' ? `: ${parent.description}` : '';
      return { path, line, message: `must be ${String(params.allowedValue)}${why}` };
    }
    case 'type':
      return { path, line, message: `must be ${TYPE_NAMES[String(params.type)] ?? String(params.type)}` };
    case 'minimum':
    case 'maximum': {
      const min = parent?.minimum;
      const max = parent?.maximum;
      if (typeof min === 'number' && typeof max === 'number') return { path, line, message: `must be ${min}-${max}` };
      return { path, line, message: e.keyword === 'minimum' ? `must be at least ${min}` : `must be at most ${max}` };
    }
    case 'minItems':
      return { path, line, message: `must list at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` };
    case 'uniqueItems': {
      const [first, dup] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return { path: `${path}[${dup}]`, line: lineOf(doc, lc, [...segments, dup ?? 0]) ?? line, message: `repeats item ${first}; list each once` };
    }
    case 'minLength':
      return { path, line, message: 'must not be empty' };
    case 'pattern':
      return { path, line, message: patternMessage(String(params.pattern)) ?? `must match ${String(params.pattern)}` };
    default:
      return { path, line, message: e.message ?? 'is invalid' };
  }
}

function patternMessage(pattern: string): string | undefined {
  return PATTERN_MESSAGES.find(([re]) => re.test(pattern))?.[1];
}
