/**
 * JSONPatch (RFC 6902) building blocks for the Pod mutation (vault-k8s agent-inject's patch.go).
 *
 * Two API-server behaviours shape every helper here:
 * - an `add` whose parent does not exist fails the whole patch ("doc is missing path"), so a
 *   missing map or list is added whole, never key by key;
 * - keys are JSON Pointer segments (RFC 6901): `group.idgate.dev/payments` must be written
 *   `group.idgate.dev~1payments`, or the API server reads it as two nested keys.
 * Patches stay minimal: per-key add/replace/remove and appends, never a whole-object replace,
 * so a concurrent mutating webhook's changes to other keys survive.
 */
import type { PatchOperation } from '../admission/types.ts';

/** Escapes one JSON Pointer reference token (RFC 6901 section 3: `~` → `~0` first, then `/` → `~1`). */
export function escapePointer(token: string): string {
  // Most tokens need no escaping: skipping the two replaces takes mutatePod on a typical Pod
  // from 4.6 to 4.1 µs (bench/, in-process).
  if (!token.includes('~') && !token.includes('/')) return token;
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Joins reference tokens into a JSON Pointer, escaping each: `pointer('metadata', 'labels', k)`. */
export function pointer(...tokens: ReadonlyArray<string | number>): string {
  let path = '';
  for (const t of tokens) path += `/${escapePointer(String(t))}`;
  return path;
}

/**
 * Turns the map at `path` from `current` into `desired` with per-key operations.
 * A missing map (`current` undefined) is added whole when `desired` has keys; keys are
 * visited in sorted order so the patch is deterministic whatever the input's key order.
 */
export function mapPatch(path: string, current: Readonly<Record<string, string>> | undefined, desired: Readonly<Record<string, string>>): PatchOperation[] {
  if (current === undefined || current === null) {
    return Object.keys(desired).length > 0 ? [{ op: 'add', path, value: { ...desired } }] : [];
  }
  const ops: PatchOperation[] = [];
  for (const key of Object.keys(current).sort()) {
    if (!Object.hasOwn(desired, key)) ops.push({ op: 'remove', path: `${path}/${escapePointer(key)}` });
  }
  for (const key of Object.keys(desired).sort()) {
    const value = desired[key];
    if (!Object.hasOwn(current, key)) ops.push({ op: 'add', path: `${path}/${escapePointer(key)}`, value });
    else if (current[key] !== value) ops.push({ op: 'replace', path: `${path}/${escapePointer(key)}`, value });
  }
  return ops;
}

/**
 * Appends `items` to the list at `path`; a missing list is added whole.
 * `-` is RFC 6901's "past the end" index, valid only for `add`.
 */
export function appendPatch(path: string, current: readonly unknown[] | undefined, items: readonly unknown[]): PatchOperation[] {
  if (items.length === 0) return [];
  if (current === undefined || current === null) return [{ op: 'add', path, value: [...items] }];
  return items.map((value) => ({ op: 'add', path: `${path}/-`, value }));
}

/** Inserts `item` at the front of the list at `path`; a missing list is added whole. */
export function prependPatch(path: string, current: readonly unknown[] | undefined, item: unknown): PatchOperation[] {
  if (current === undefined || current === null) return [{ op: 'add', path, value: [item] }];
  return [{ op: 'add', path: `${path}/0`, value: item }];
}

/** A value's JSON text: the known text of a shared value, arrays element by element, else JSON.stringify. */
function valueJson(value: unknown, known: WeakMap<object, string>): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const text = known.get(value);
  if (text !== undefined) return text;
  if (!Array.isArray(value)) return JSON.stringify(value);
  let json = '[';
  for (let i = 0; i < value.length; i++) json += (i > 0 ? ',' : '') + valueJson(value[i], known);
  return `${json}]`;
}

/**
 * `JSON.stringify(patch)`, byte for byte (operations are built with keys in the order op, path,
 * value, and no value is undefined), taking the text of every operation or value `known` holds instead of
 * serializing it again: the sidecar and its volumes, the bulk of an injecting patch, are
 * serialized once per baseline (parts.ts). With the identity operations kept too, encoding a
 * small Pod's answer (a 2 KB patch) went from 5.2 to 1.3 µs in process, and the webhook's server
 * CPU per review from 113 to 100 µs (BENCHMARKS.md, "Mutation and encoding").
 */
export function patchJson(patch: readonly PatchOperation[], known: WeakMap<object, string>): string {
  let json = '[';
  for (let i = 0; i < patch.length; i++) {
    const op = patch[i]!;
    if (i > 0) json += ',';
    const whole = known.get(op);
    if (whole !== undefined) {
      json += whole;
      continue;
    }
    json += `{"op":"${op.op}","path":${JSON.stringify(op.path)}`;
    json += op.op === 'remove' ? '}' : `,"value":${valueJson(op.value, known)}}`;
  }
  return `${json}]`;
}
