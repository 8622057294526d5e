/**
 * The labels and annotations operations of the patch (docs/design.md#mutation, step 2): what
 * mapPatch would give for the desired maps of identity.ts (the Pod's own keys kept, identity keys
 * exactly the computed ones), without building those maps. Only identity keys and the recorded
 * upstream container can differ from the Pod's, so only they are visited, from a
 * {@link PreparedIdentity}: the computed keys sorted, their pointers escaped and their
 * operations built, once per (namespace, ServiceAccount) when the handler keeps it (parts.ts).
 * Building the desired maps, sorting and escaping their keys was a third of mutatePod's time.
 */
import type { ObjectMeta } from '../admission/k8s.ts';
import type { PatchOperation } from '../admission/types.ts';
import { isIdentityAnnotation, isIdentityLabel } from '../identity/labels.ts';
import { desiredAnnotations, desiredLabels, type IdentityMetadata, replaceIdentityKeys } from './identity.ts';
import { escapePointer, mapPatch } from './patch.ts';
import { ANNOTATION_UPSTREAM_CONTAINER } from './upstream.ts';

const LABELS_PATH = '/metadata/labels';
const ANNOTATIONS_PATH = '/metadata/annotations';

/** One computed key with the operations setting it. */
export interface PreparedKey {
  readonly key: string;
  readonly value: string;
  readonly add: PatchOperation;
  readonly replace: PatchOperation;
}

/** The computed keys of one map, sorted as mapPatch visits them. */
export interface PreparedMap {
  readonly path: string;
  readonly computed: Readonly<Record<string, string>>;
  readonly keys: readonly PreparedKey[];
}

/** A Pod's computed identity metadata, ready to be compared with the Pod's. */
export interface PreparedIdentity {
  readonly computed: IdentityMetadata;
  readonly labels: PreparedMap;
  readonly annotations: PreparedMap;
}

function preparedKey(path: string, key: string, value: string, pointer = `${path}/${escapePointer(key)}`): PreparedKey {
  return { key, value, add: { op: 'add', path: pointer, value }, replace: { op: 'replace', path: pointer, value } };
}

const UPSTREAM_CONTAINER_POINTER = `${ANNOTATIONS_PATH}/${escapePointer(ANNOTATION_UPSTREAM_CONTAINER)}`;

/** Prepares `computed`; `keep` is given every operation built (the handler keeps their JSON text). */
export function prepareIdentity(computed: IdentityMetadata, keep: (op: PatchOperation) => void = () => {}): PreparedIdentity {
  const map = (path: string, values: Readonly<Record<string, string>>): PreparedMap => {
    const keys = Object.keys(values)
      .sort()
      .map((k) => preparedKey(path, k, values[k]!));
    for (const k of keys) {
      keep(k.add);
      keep(k.replace);
    }
    return { path, computed: values, keys };
  };
  return { computed, labels: map(LABELS_PATH, computed.labels), annotations: map(ANNOTATIONS_PATH, computed.annotations) };
}

/**
 * mapPatch(map.path, current, desired) for desired = replaceIdentityKeys(current, map.computed,
 * isIdentity) plus `extra`, a key that is never an identity key nor computed.
 */
function identityMapPatch(
  current: Readonly<Record<string, string>>,
  map: PreparedMap,
  isIdentity: (key: string) => boolean,
  extra: PreparedKey | undefined,
): PatchOperation[] {
  const ops: PatchOperation[] = [];
  const removed: string[] = [];
  for (const key of Object.keys(current)) {
    // replaceIdentityKeys drops a `__proto__` key (the object literal's setter), so mapPatch removes it.
    if (key === '__proto__' || (isIdentity(key) && !Object.hasOwn(map.computed, key) && key !== extra?.key)) removed.push(key);
  }
  for (const key of removed.sort()) ops.push({ op: 'remove', path: `${map.path}/${escapePointer(key)}` });
  const set = (k: PreparedKey): void => {
    if (!Object.hasOwn(current, k.key)) ops.push(k.add);
    else if (current[k.key] !== k.value) ops.push(k.replace);
  };
  let pending = extra;
  for (const k of map.keys) {
    if (pending !== undefined && pending.key < k.key) {
      set(pending);
      pending = undefined;
    }
    set(k);
  }
  if (pending !== undefined) set(pending);
  return ops;
}

function mapOps(
  current: Readonly<Record<string, string>> | undefined | null,
  map: PreparedMap,
  isIdentity: (key: string) => boolean,
  extra?: PreparedKey,
): PatchOperation[] {
  if (current !== undefined && current !== null) return identityMapPatch(current, map, isIdentity, extra);
  const desired = replaceIdentityKeys(undefined, map.computed, isIdentity);
  if (extra !== undefined) desired[extra.key] = extra.value;
  return mapPatch(map.path, undefined, desired);
}

/**
 * The operations giving the Pod's labels and annotations the identity ones, and recording the
 * upstream container (`recordContainer`) when given.
 */
export function metadataPatch(meta: ObjectMeta | undefined | null, identity: PreparedIdentity, recordContainer: string | undefined): PatchOperation[] {
  if (meta === undefined || meta === null) {
    // Never seen from a real API server, but an `add` under a missing /metadata would fail.
    const annotations = desiredAnnotations(undefined, identity.computed);
    if (recordContainer !== undefined) annotations[ANNOTATION_UPSTREAM_CONTAINER] = recordContainer;
    return [{ op: 'add', path: '/metadata', value: { labels: desiredLabels(undefined, identity.computed), annotations } }];
  }
  const extra =
    recordContainer === undefined ? undefined : preparedKey(ANNOTATIONS_PATH, ANNOTATION_UPSTREAM_CONTAINER, recordContainer, UPSTREAM_CONTAINER_POINTER);
  const labels = mapOps(meta.labels, identity.labels, isIdentityLabel);
  const annotations = mapOps(meta.annotations, identity.annotations, isIdentityAnnotation, extra);
  return labels.length === 0 ? annotations : annotations.length === 0 ? labels : [...labels, ...annotations];
}
