/**
 * Group → label encoding (docs/design.md#identity-labels), and the identity label and
 * annotation keys only idgate may write.
 */
import { createHash } from 'node:crypto';

export const LABEL_SERVICE_ACCOUNT = 'idgate.dev/service-account';
export const GROUP_LABEL_PREFIX = 'group.idgate.dev/';
export const ANNOTATION_GROUPS = 'idgate.dev/groups';
export const ANNOTATION_BINDINGS = 'idgate.dev/bindings';
export const ANNOTATION_INJECTED = 'idgate.dev/injected';

/** Kubernetes label name part: at most 63 characters (k8s.io/apimachinery validation.IsQualifiedName). */
const MAX_NAME = 63;
const VALID_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const HASH_CHARS = 10;

/**
 * Encodes a group as a label name. A valid name is kept as is; otherwise invalid characters
 * become `-`, runs of `-` collapse, the ends are trimmed, and `-` + the first 10 hex characters
 * of SHA-256(group) are appended, shortening the front so the whole fits in 63 characters.
 *
 * Distinctness: a kept name never contains the hash suffix of an encoded one unless the group
 * literally is that string, and the hash suffix separates any two encoded groups.
 */
export function encodeGroup(group: string): string {
  if (group.length <= MAX_NAME && VALID_NAME.test(group)) return group;
  const hash = createHash('sha256').update(group, 'utf8').digest('hex').slice(0, HASH_CHARS);
  const readable = group
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
    .slice(0, MAX_NAME - HASH_CHARS - 1)
    .replace(/[^A-Za-z0-9]+$/, '');
  return readable === '' ? hash : `${readable}-${hash}`;
}

/** The whole label key NetworkPolicies select for a group: `group.idgate.dev/<encoded>`. */
export function groupLabelKey(group: string): string {
  return GROUP_LABEL_PREFIX + encodeGroup(group);
}

/** Pod labels only idgate may set: every label under `idgate.dev/` or `group.idgate.dev/`. */
export function isIdentityLabel(key: string): boolean {
  return key.startsWith('idgate.dev/') || key.startsWith(GROUP_LABEL_PREFIX);
}

/**
 * Pod annotations only idgate may set. Other `idgate.dev/` annotations (`upstream-port`,
 * `proxy-port`, `allowed-groups`, `inject`) are the user's instructions to the injector.
 */
export function isIdentityAnnotation(key: string): boolean {
  return key === ANNOTATION_GROUPS || key === ANNOTATION_BINDINGS || key === ANNOTATION_INJECTED || key.startsWith(GROUP_LABEL_PREFIX);
}

/** Annotations a user sets on a Pod (or pod template) to steer injection. */
export const ANNOTATION_INJECT = 'idgate.dev/inject';
export const ANNOTATION_UPSTREAM_PORT = 'idgate.dev/upstream-port';
export const ANNOTATION_PROXY_PORT = 'idgate.dev/proxy-port';
export const ANNOTATION_ALLOWED_GROUPS = 'idgate.dev/allowed-groups';

/**
 * The names a list annotation carries, sorted: `idgate.dev/groups` (the injector writes a JSON
 * list of strings, since a group may contain commas) and `idgate.dev/bindings` (a comma list of
 * `namespace/name`, mutate/identity.ts). Every reader (the pod-identity-labels rule, `idgate
 * audit`'s stale check) reads them through this one function, with one deliberate tolerance: a
 * value that starts with `[` must be a JSON list of strings, and anything else is read as a comma
 * list (spaces trimmed, empty items dropped), so a hand-written `a, b` means the same as the
 * injector's `["a","b"]`. Order never matters.
 * @returns the sorted names; `undefined` when the annotation is absent; `'invalid'` when it
 * starts with `[` but is not a JSON list of strings.
 */
export function parseListAnnotation(value: string | undefined): string[] | 'invalid' | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!trimmed.startsWith('[')) {
    return trimmed
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .sort();
  }
  try {
    const parsed: unknown = JSON.parse(trimmed);
    return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? [...parsed].sort() : 'invalid';
  } catch {
    return 'invalid';
  }
}
