/**
 * Kubernetes `List` objects in files: `kubectl get -o yaml|json` prints several objects as one
 * `kind: List` with an `items` array, and typed lists (`kind: PodList`) look the same. Manifests
 * for `idgate check` and the bindings file both accept them.
 */

/** The items of a `kind: List` or `kind: *List` object with an `items` array; `undefined` for any other value. */
export function listItems(value: unknown): unknown[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, items } = value as { kind?: unknown; items?: unknown };
  return typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items) ? items : undefined;
}
