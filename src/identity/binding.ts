/**
 * Parsing and validation of OIDCGroupBinding objects (docs/design.md#oidcgroupbinding) into {@link Binding}s.
 *
 * One validator for every source: the bindings file, the Kubernetes informer (where a malformed
 * object is skipped and logged, never fatal) and `idgate check`. Like cert-manager's webhook it
 * reports every field error with its path, not just the first, so one run fixes a whole object.
 */
import type { Binding } from './types.ts';
import { isRecord } from '../admission/k8s.ts';

export const BINDING_API_VERSION = 'idgate.dev/v1alpha1';
export const BINDING_KIND = 'OIDCGroupBinding';

/** Stable error codes carried by {@link BindingError}. */
export const ERR_BINDING_INVALID = 'ERR_BINDING_INVALID';
export const ERR_BINDINGS_FILE = 'ERR_BINDINGS_FILE';
export type BindingErrorCode = typeof ERR_BINDING_INVALID | typeof ERR_BINDINGS_FILE;

/**
 * One problem in one object: `path` is the field as a list of keys (`['spec', 'groups', 1]`),
 * `field` the same as text (`spec.groups[1]`), `message` says what is wrong and how to fix it.
 */
export interface BindingIssue {
  readonly path: readonly (string | number)[];
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
 * DNS-1123 label (k8s.io/apimachinery validation.IsDNS1123Label): at most 63 characters.
 * ServiceAccount names are restricted to labels, not subdomains, because the name becomes the
 * value of the `idgate.dev/service-account` label, which cannot hold more than 63 characters.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_MAX = 63;
/** DNS-1123 subdomain (validation.IsDNS1123Subdomain): object names, at most 253 characters. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MAX = 253;

const fieldOf = (path: readonly (string | number)[]): string =>
  path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');

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
 * issue found. Pure; never throws.
 */
export function validateBinding(obj: unknown): BindingValidation {
  const issues: BindingIssue[] = [];
  const add = (path: (string | number)[], message: string): void => {
    issues.push({ path, field: fieldOf(path), message });
  };
  if (!isRecord(obj)) {
    add([], `expected an ${BINDING_KIND} object (a YAML/JSON mapping), got ${obj === null ? 'null' : Array.isArray(obj) ? 'a list' : typeof obj}`);
    return { ok: false, issues };
  }
  if (obj.apiVersion !== BINDING_API_VERSION) {
    add(['apiVersion'], `must be "${BINDING_API_VERSION}", got ${JSON.stringify(obj.apiVersion ?? null)}`);
  }
  if (obj.kind !== BINDING_KIND) add(['kind'], `must be "${BINDING_KIND}", got ${JSON.stringify(obj.kind ?? null)}`);

  const meta = isRecord(obj.metadata) ? obj.metadata : undefined;
  if (!meta) add(['metadata'], 'is required: set metadata.name and metadata.namespace');
  const name = meta?.name;
  if (meta && (typeof name !== 'string' || name === '')) {
    add(['metadata', 'name'], 'is required: name the binding (a DNS-1123 subdomain, e.g. payments-writers)');
  } else if (typeof name === 'string' && (name.length > DNS1123_SUBDOMAIN_MAX || !DNS1123_SUBDOMAIN.test(name))) {
    add(['metadata', 'name'], `"${name}" is not a valid object name: use lower-case letters, digits, "-" and "." (DNS-1123 subdomain)`);
  }
  const namespace = meta?.namespace;
  if (meta && (typeof namespace !== 'string' || namespace === '')) {
    // No default namespace: a binding grants groups to ServiceAccounts of its own namespace, so a
    // file that silently meant "default" would grant identity somewhere nobody intended.
    add(['metadata', 'namespace'], 'is required (there is no default): set the namespace whose ServiceAccounts the binding grants groups to');
  } else if (typeof namespace === 'string' && (namespace.length > DNS1123_LABEL_MAX || !DNS1123_LABEL.test(namespace))) {
    add(['metadata', 'namespace'], `"${namespace}" is not a valid namespace name (DNS-1123 label: lower-case letters, digits and "-", at most 63 characters)`);
  }

  const spec = isRecord(obj.spec) ? obj.spec : undefined;
  if (!spec) {
    add(['spec'], 'is required: set spec.issuer, spec.groups and spec.serviceAccounts');
    return { ok: false, issues };
  }
  const issuer = spec.issuer;
  if (typeof issuer !== 'string' || issuer === '') {
    add(['spec', 'issuer'], 'is required: set the https URL of the OIDC issuer (the "iss" claim of its tokens)');
  } else if (!isHttpsUrl(issuer)) {
    add(['spec', 'issuer'], `"${issuer}" is not an https URL: OIDC issuers must use https (e.g. https://keycloak.example.com/realms/prod)`);
  }
  const groups = stringList(spec.groups, ['spec', 'groups'], add, "list at least one group (a value of the issuer's groups claim)", (g, path) => {
    if (g.trim() !== g) add(path, `"${g}" has leading or trailing spaces: remove them (groups are compared exactly)`);
  });
  const serviceAccounts = stringList(
    spec.serviceAccounts,
    ['spec', 'serviceAccounts'],
    add,
    'list at least one ServiceAccount name of this namespace',
    (sa, path) => {
      if (sa.length > DNS1123_LABEL_MAX || !DNS1123_LABEL.test(sa)) {
        add(path, `"${sa}" is not a valid ServiceAccount name: use lower-case letters, digits and "-", at most 63 characters (DNS-1123 label)`);
      }
    },
  );
  if (issues.length > 0 || typeof name !== 'string' || typeof namespace !== 'string' || typeof issuer !== 'string') {
    return { ok: false, issues };
  }
  return { ok: true, binding: { namespace, name, issuer, groups, serviceAccounts } };
}

/** Like {@link validateBinding} but throws a {@link BindingError} (code `ERR_BINDING_INVALID`) naming the object. */
export function parseBinding(obj: unknown): Binding {
  const result = validateBinding(obj);
  if (result.ok) return result.binding;
  const what = describeObject(obj);
  throw new BindingError(ERR_BINDING_INVALID, result.issues, `${what} is invalid:\n${result.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
}

function isHttpsUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' && u.hostname !== '' && u.hash === '' && u.search === '';
  } catch {
    return false;
  }
}

function stringList(
  value: unknown,
  path: (string | number)[],
  add: (path: (string | number)[], message: string) => void,
  fix: string,
  check: (item: string, path: (string | number)[]) => void,
): string[] {
  if (value === undefined || value === null) {
    add(path, `is required: ${fix}`);
    return [];
  }
  if (!Array.isArray(value)) {
    add(path, `must be a list of strings: ${fix}`);
    return [];
  }
  if (value.length === 0) add(path, `must not be empty: ${fix}`);
  const out: string[] = [];
  value.forEach((item: unknown, i) => {
    const p = [...path, i];
    if (typeof item !== 'string' || item === '') {
      add(p, `must be a non-empty string, got ${JSON.stringify(item ?? null)}`);
      return;
    }
    check(item, p);
    out.push(item);
  });
  return out;
}
