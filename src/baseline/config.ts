/**
 * Loads the IdentityBaseline file (docs/design.md#baseline): YAML → JSON Schema validation with defaults
 * → a deeply frozen {@link Baseline}. Every problem is reported at once, each with the file,
 * line and dotted field path, so a user fixes the file in one pass:
 * `examples/baseline.yaml:12: sidecar.port: must be 1-65535`.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { BASELINE_SCHEMA, type Baseline, type BaselineFile } from '../config/baseline.ts';
import { FieldPath, pointerSegments, type Segment } from '../lib/field-path.ts';
import { parseYamlDocument, type YamlDocument } from '../lib/yaml.ts';

/** One problem in a baseline file. */
export interface BaselineProblem {
  /** Field path as lib/field-path.ts renders it (`sidecar.port`, `namespaces.payments.allowedGroups[0]`); '' for the whole file. */
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
  const doc = parseYamlDocument(text);
  if (doc.errors.length > 0) {
    throw new BaselineError(
      'ERR_BASELINE_YAML',
      file,
      doc.errors.map((e) => ({ path: '', line: e.line, message: e.message })),
    );
  }
  const data: unknown = doc.value();
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
    const problems = dedupe((validate.errors ?? []).filter((e) => e.keyword !== 'propertyNames').map((e) => toProblem(e, doc))).sort(
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
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** `sidecar.port`, `trustedIssuers[0]`, `rules[my.rule]` (keys that are not field names go in brackets). */
export function dottedPath(segments: readonly Segment[]): string {
  return FieldPath.of(segments).toString();
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

/** One ajv error as a problem at the file's line: a key at fault (missing, unknown, misnamed), else a value. */
function toProblem(e: ErrorObject, doc: YamlDocument): BaselineProblem {
  const segments = pointerSegments(e.instancePath);
  return keyProblem(e, segments, doc) ?? valueProblem(e, segments, doc);
}

/** A required key missing, an unknown key, or a key that is itself wrong (propertyNames). */
function keyProblem(e: ErrorObject, segments: Segment[], doc: YamlDocument): BaselineProblem | undefined {
  const params = e.params as Record<string, unknown>;
  const propertyName = (e as { propertyName?: string }).propertyName;
  if (e.keyword === 'required') {
    const missing = String(params.missingProperty);
    // The line of the mapping's own key (`sidecar:`), where the missing field belongs.
    const last = segments.at(-1);
    const line = typeof last === 'string' ? doc.lineOf(segments.slice(0, -1), last) : doc.lineOf(segments);
    return { path: dottedPath([...segments, missing]), line: line ?? 1, message: 'is required' };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = String(params.additionalProperty);
    const known = Object.keys(((e.parentSchema as Record<string, unknown> | undefined)?.properties as object | undefined) ?? {});
    return {
      path: dottedPath([...segments, extra]),
      line: doc.lineOf(segments, extra),
      message: `unknown field${known.length > 0 ? `; expected one of: ${known.join(', ')}` : ''}`,
    };
  }
  if (propertyName === undefined) return undefined;
  // propertyNames: the key itself is wrong (an unknown rule id, a bad namespace name).
  const message =
    e.keyword === 'enum'
      ? `unknown rule id; known rules: ${(e.schema as string[]).join(', ')}`
      : (patternMessage(String(params.pattern ?? '')) ?? e.message ?? 'invalid');
  return { path: dottedPath([...segments, propertyName]), line: doc.lineOf(segments, propertyName), message };
}

/** A value of the wrong type, out of range, not allowed, repeated or malformed. */
function valueProblem(e: ErrorObject, segments: Segment[], doc: YamlDocument): BaselineProblem {
  const params = e.params as Record<string, unknown>;
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  const path = dottedPath(segments);
  const line = doc.lineOf(segments);
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
    case 'maximum':
      return { path, line, message: rangeMessage(e.keyword, parent?.minimum, parent?.maximum) };
    case 'minItems':
      return { path, line, message: `must list at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` };
    case 'uniqueItems': {
      const [first, dup] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return { path: `${path}[${dup}]`, line: doc.lineOf([...segments, dup ?? 0]) ?? line, message: `repeats item ${first}; list each once` };
    }
    case 'minLength':
      return { path, line, message: 'must not be empty' };
    case 'pattern':
      return { path, line, message: patternMessage(String(params.pattern)) ?? `must match ${String(params.pattern)}` };
    default:
      return { path, line, message: e.message ?? 'is invalid' };
  }
}

function rangeMessage(keyword: 'minimum' | 'maximum', min: unknown, max: unknown): string {
  if (typeof min === 'number' && typeof max === 'number') return `must be ${min}-${max}`;
  return keyword === 'minimum' ? `must be at least ${min}` : `must be at most ${max}`;
}

function patternMessage(pattern: string): string | undefined {
  return PATTERN_MESSAGES.find(([re]) => re.test(pattern))?.[1];
}
