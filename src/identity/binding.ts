/**
 * Parsing and validation of OIDCGroupBinding objects (docs/design.md#oidcgroupbinding) into {@link Binding}s.
 *
 * One validator for every source: the bindings file, the Kubernetes informer (where a malformed
 * object is skipped and logged, never fatal) and `idgate check`. It applies the CRD's own
 * openAPIV3Schema (crd.ts), so a binding file is held to the rules the API server applies. One
 * exception: a `x-kubernetes-list-type: set` list with a repeated item, which the API server
 * refuses, is accepted here as it always was (a repeated group or ServiceAccount grants nothing more).
 * Like cert-manager's webhook it reports every field error with its path, not just the first, so
 * one run fixes a whole object.
 */
import { Ajv, type ErrorObject } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';
import type { Binding } from './types.ts';
import { isRecord } from '../admission/k8s.ts';
import { BINDING_API_VERSION, BINDING_KIND, BINDING_SCHEMA } from './crd.ts';
import { FieldPath, pointerSegments, type Segment } from '../lib/field-path.ts';

export { BINDING_API_VERSION, BINDING_KIND };

/** Stable error codes carried by {@link BindingError}. */
export const ERR_BINDING_INVALID = 'ERR_BINDING_INVALID';
export const ERR_BINDINGS_FILE = 'ERR_BINDINGS_FILE';
export type BindingErrorCode = typeof ERR_BINDING_INVALID | typeof ERR_BINDINGS_FILE;

/**
 * One problem in one object: `path` is the field as a list of keys (`['spec', 'groups', 1]`),
 * `field` the same as text (`spec.groups[1]`), `message` says what is wrong and how to fix it.
 */
export interface BindingIssue {
  readonly path: readonly Segment[];
  readonly field: string;
  readonly message: string;
  /** Where it is, when the object came from a file (1-based line). */
  readonly file?: string;
  readonly line?: number;
}

/** A binding (or bindings file) that cannot be used; `issues` lists every problem found. */
export class BindingError extends Error {
  readonly code: BindingErrorCode;
  readonly issues: readonly BindingIssue[];

  constructor(code: BindingErrorCode, issues: readonly BindingIssue[], summary?: string) {
    super(summary ?? issues.map(formatIssue).join('\n'));
    this.name = 'BindingError';
    this.code = code;
    this.issues = issues;
  }
}

/** `file:line: field: message`, the shape editors and CI logs link to. */
export function formatIssue(issue: BindingIssue): string {
  const where = issue.file ? `${issue.file}${issue.line ? `:${issue.line}` : ''}: ` : '';
  return `${where}${issue.field ? `${issue.field}: ` : ''}${issue.message}`;
}

/**
 * What the API server checks on every namespaced object besides the CRD's schema: the type
 * (apiVersion, kind), a name (a DNS-1123 subdomain, k8s.io/apimachinery validation.IsDNS1123Subdomain)
 * and a namespace (a DNS-1123 label, validation.IsDNS1123Label). A file has no API server to fill
 * the namespace in, so it is required here: there is no default.
 */
const OBJECT_SCHEMA = {
  ...BINDING_SCHEMA,
  required: ['apiVersion', 'kind', 'metadata', ...BINDING_SCHEMA.required],
  properties: {
    ...BINDING_SCHEMA.properties,
    apiVersion: { type: 'string', const: BINDING_API_VERSION },
    kind: { type: 'string', const: BINDING_KIND },
    metadata: {
      type: 'object',
      required: ['name', 'namespace'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' },
        namespace: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
      },
    },
  },
} as const;

/** An object that passed the schema above, typed from it (json-schema-to-ts, erased at run time). */
type ValidBindingObject = FromSchema<typeof OBJECT_SCHEMA>;

// The Kubernetes extensions are annotations to ajv (see the exception above); formats (int64,
// date-time) only concern the status, which idgate does not read.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, validateFormats: false });
ajv.addVocabulary(['x-kubernetes-list-type', 'x-kubernetes-list-map-keys']);
const validateObject = ajv.compile<ValidBindingObject>(OBJECT_SCHEMA);

/**
 * What each field is for, so a message says what to do and not only what is wrong. `missing`:
 * absent, empty or of the wrong type; `invalid`: a value its pattern refuses (or its length, with
 * `length`, when the text states the limit); `list`: the fix for a list that is absent, not a list
 * or empty.
 */
interface FieldText {
  readonly missing?: string;
  readonly invalid?: (value: string) => string;
  readonly length?: true;
  readonly list?: string;
}
const FIELDS: Readonly<Record<string, FieldText>> = {
  metadata: { missing: 'is required: set metadata.name and metadata.namespace' },
  'metadata.name': {
    missing: 'is required: name the binding (a DNS-1123 subdomain, e.g. payments-writers)',
    invalid: (v) => `"${v}" is not a valid object name: use lower-case letters, digits, "-" and "." (DNS-1123 subdomain, at most 253 characters)`,
    length: true,
  },
  'metadata.namespace': {
    // No default namespace: a binding grants groups to ServiceAccounts of its own namespace, so a
    // file that silently meant "default" would grant identity somewhere nobody intended.
    missing: 'is required (there is no default): set the namespace whose ServiceAccounts the binding grants groups to',
    invalid: (v) => `"${v}" is not a valid namespace name (DNS-1123 label: lower-case letters, digits and "-", at most 63 characters)`,
    length: true,
  },
  spec: { missing: 'is required: set spec.issuer, spec.groups and spec.serviceAccounts' },
  'spec.issuer': {
    missing: 'is required: set the https URL of the OIDC issuer (the "iss" claim of its tokens)',
    invalid: (v) => `"${v}" is not an https URL: OIDC issuers must use https (e.g. https://keycloak.example.com/realms/prod)`,
  },
  'spec.groups': { list: "list at least one group (a value of the issuer's groups claim)" },
  'spec.groups[]': { invalid: (g) => `"${g}" has leading or trailing spaces: remove them (groups are compared exactly)` },
  'spec.serviceAccounts': { list: 'list at least one ServiceAccount name of this namespace' },
  'spec.serviceAccounts[]': {
    invalid: (sa) => `"${sa}" is not a valid ServiceAccount name: use lower-case letters, digits and "-", at most 63 characters (DNS-1123 label)`,
    length: true,
  },
};

const fieldOf = (path: readonly Segment[]): string => FieldPath.of(path).toString();

const describeValue = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v);

/** What {@link messageFor} reads of one ajv error. */
interface SchemaError {
  readonly keyword: string;
  readonly path: readonly Segment[];
  /** The value at `path`; undefined when it is missing. */
  readonly value: unknown;
  /** The `const` of the schema at `path`, if any. */
  readonly expected: unknown;
  /** The `limit` of maxLength and maxItems. */
  readonly limit: unknown;
  readonly fallback: string;
}

/** One ajv error as an issue: the field it names and a message saying what to do. */
function toIssue(e: ErrorObject): BindingIssue {
  const params = e.params as { missingProperty?: string; limit?: number };
  const missing = e.keyword === 'required' ? String(params.missingProperty) : undefined;
  const path = missing === undefined ? pointerSegments(e.instancePath) : [...pointerSegments(e.instancePath), missing];
  const schema = (missing === undefined ? e.parentSchema : e.parentSchema?.properties?.[missing]) as { const?: unknown } | undefined;
  const value: unknown = missing === undefined ? e.data : undefined;
  return {
    path,
    field: fieldOf(path),
    message: messageFor({ keyword: e.keyword, path, value, expected: schema?.const, limit: params.limit, fallback: e.message ?? 'is invalid' }),
  };
}

function messageFor({ keyword, path, value, expected, limit, fallback }: SchemaError): string {
  if (path.length === 0) return `expected an ${BINDING_KIND} object (a YAML/JSON mapping), got ${describeValue(value)}`;
  if (expected !== undefined) return `must be ${JSON.stringify(expected)}, got ${JSON.stringify(value ?? null)}`;
  const text = FIELDS[fieldOf(path).replace(/\[\d+\]/g, '[]')] ?? {};
  const absent = keyword === 'required' || value === null || value === undefined || value === '';
  if (text.list !== undefined) {
    if (absent) return `is required: ${text.list}`;
    if (keyword === 'type') return `must be a list of strings: ${text.list}`;
    if (keyword === 'minItems') return `must not be empty: ${text.list}`;
  }
  if (text.missing !== undefined && (absent || keyword === 'type' || keyword === 'minLength')) return text.missing;
  if (typeof path.at(-1) === 'number' && (keyword === 'type' || keyword === 'minLength')) {
    return `must be a non-empty string, got ${JSON.stringify(value ?? null)}`;
  }
  if (text.invalid !== undefined && typeof value === 'string' && (keyword === 'pattern' || (keyword === 'maxLength' && text.length))) {
    return text.invalid(value);
  }
  if (keyword === 'maxLength' && typeof value === 'string') return `is ${value.length} characters long: shorten it to at most ${String(limit)}`;
  if (keyword === 'maxItems' && Array.isArray(value)) return `lists ${value.length} items: split it into bindings of at most ${String(limit)}`;
  return absent ? 'is required' : fallback;
}

/** `namespace/name` of an object for messages, as far as it can be read. */
export function describeObject(obj: unknown): string {
  const meta = isRecord(obj) && isRecord(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' && meta.name ? meta.name : '<no name>';
  const ns = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : '<no namespace>';
  return `${BINDING_KIND} ${ns}/${name}`;
}

/** The result of {@link validateBinding}: a binding, or every issue found. */
export type BindingValidation = { readonly ok: true; readonly binding: Binding } | { readonly ok: false; readonly issues: readonly BindingIssue[] };

/**
 * Validates an OIDCGroupBinding object and returns the {@link Binding} it describes, or every
 * issue found (one per field: the first the schema finds). Pure; never throws.
 */
export function validateBinding(obj: unknown): BindingValidation {
  if (validateObject(obj)) {
    const { metadata, spec } = obj;
    return {
      ok: true,
      binding: {
        namespace: metadata.namespace,
        name: metadata.name,
        issuer: spec.issuer,
        groups: [...spec.groups],
        serviceAccounts: [...spec.serviceAccounts],
      },
    };
  }
  const issues = new Map<string, BindingIssue>();
  for (const e of validateObject.errors ?? []) {
    const issue = toIssue(e);
    if (!issues.has(issue.field)) issues.set(issue.field, issue);
  }
  return { ok: false, issues: [...issues.values()] };
}

/** Like {@link validateBinding} but throws a {@link BindingError} (code `ERR_BINDING_INVALID`) naming the object. */
export function parseBinding(obj: unknown): Binding {
  const result = validateBinding(obj);
  if (result.ok) return result.binding;
  const what = describeObject(obj);
  throw new BindingError(ERR_BINDING_INVALID, result.issues, `${what} is invalid:\n${result.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
}
