/**
 * A {@link BindingIndex} that tells the controllers what changed. The identity source already
 * lists and watches OIDCGroupBindings and Namespaces for the admission path; the controllers
 * hang off the same index instead of opening a second pair of watches. A relist (`replaceAll`,
 * `replaceNamespaces`) is diffed against the index, so the periodic resync of an unchanged
 * cluster is silent.
 */
import { isDeepStrictEqual } from 'node:util';
import { BindingIndex } from '../identity/index.ts';
import type { Binding } from '../identity/types.ts';

/** One change seen by the index. */
export type IndexChange =
  /** Bindings of `namespace` that list these ServiceAccounts changed (before or after the change). */
  | { readonly kind: 'serviceAccounts'; readonly namespace: string; readonly serviceAccounts: readonly string[] }
  /** A Namespace appeared, changed its labels, or went away (`labels` undefined). */
  | { readonly kind: 'namespace'; readonly namespace: string; readonly labels: Readonly<Record<string, string>> | undefined }
  /** The first full view is in (the identity source's first sync). */
  | { readonly kind: 'synced' };

export type IndexListener = (change: IndexChange) => void;

/** What decides a Pod's identity; a change elsewhere (status, annotations) relabels nothing. */
const sameGrant = (a: Binding, b: Binding): boolean =>
  a.issuer === b.issuer && isDeepStrictEqual(a.groups, b.groups) && isDeepStrictEqual(a.serviceAccounts, b.serviceAccounts);

export class ObservedBindingIndex extends BindingIndex {
  readonly #listeners = new Set<IndexListener>();
  readonly #namespaces = new Map<string, Readonly<Record<string, string>>>();
  /** Inside replaceAll: BindingIndex.replaceAll calls upsert, whose events the diff replaces. */
  #bulk = false;
  /** Inside upsert: its inner delete of the old version is not a deletion. */
  #quiet = 0;

  /** Registers a listener; returns the function that removes it. */
  onChange(listener: IndexListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Names of every Namespace the index knows. */
  namespaceNames(): string[] {
    return [...this.#namespaces.keys()];
  }

  override markSynced(): void {
    const first = !this.ready();
    super.markSynced();
    if (first) this.#emit({ kind: 'synced' });
  }

  // The version a change replaces is read from the index itself: a map of its own held a second
  // reference and key per binding, 22 MB of live heap with 100,000 bindings (BENCHMARKS.md, "scale").
  override upsert(binding: Binding): void {
    const old = this.#bulk ? undefined : this.get(binding.namespace, binding.name);
    // BindingIndex.upsert deletes the old version through this.delete: keep that one quiet.
    this.#quiet++;
    try {
      super.upsert(binding);
    } finally {
      this.#quiet--;
    }
    if (this.#bulk) return;
    if (!old || !sameGrant(old, binding)) this.#touched(binding.namespace, [...(old?.serviceAccounts ?? []), ...binding.serviceAccounts]);
  }

  override delete(namespace: string, name: string): void {
    const old = this.#bulk || this.#quiet > 0 ? undefined : this.get(namespace, name);
    super.delete(namespace, name);
    if (old) this.#touched(namespace, old.serviceAccounts);
  }

  override replaceAll(bindings: Iterable<Binding>): void {
    const before = new Map(this.bindings().map((b) => [`${b.namespace}/${b.name}`, b]));
    this.#bulk = true;
    try {
      super.replaceAll(bindings);
    } finally {
      this.#bulk = false;
    }
    const touched = new Map<string, Set<string>>();
    const touch = (b: Binding) => {
      const set = touched.get(b.namespace) ?? touched.set(b.namespace, new Set()).get(b.namespace)!;
      for (const sa of b.serviceAccounts) set.add(sa);
    };
    for (const old of before.values()) {
      const now = this.get(old.namespace, old.name);
      if (!now || !sameGrant(old, now)) touch(old);
    }
    for (const b of this.bindings()) {
      const old = before.get(`${b.namespace}/${b.name}`);
      if (!old || !sameGrant(old, b)) touch(b);
    }
    for (const [namespace, sas] of touched) this.#touched(namespace, [...sas]);
  }

  override setNamespace(name: string, labels: Readonly<Record<string, string>>, terminating = false): void {
    super.setNamespace(name, labels, terminating);
    const old = this.#namespaces.get(name);
    this.#namespaces.set(name, labels);
    if (!old || !isDeepStrictEqual(old, labels)) this.#emit({ kind: 'namespace', namespace: name, labels });
  }

  override deleteNamespace(name: string): void {
    super.deleteNamespace(name);
    if (!this.#namespaces.delete(name)) return;
    this.#emit({ kind: 'namespace', namespace: name, labels: undefined });
  }

  override replaceNamespaces(entries: Iterable<[string, Readonly<Record<string, string>>, boolean?]>): void {
    const list = [...entries];
    super.replaceNamespaces(list);
    const next = new Map(list.map(([name, labels]) => [name, labels]));
    const old = new Map(this.#namespaces);
    this.#namespaces.clear();
    for (const [name, labels] of next) this.#namespaces.set(name, labels);
    for (const [name, labels] of next) {
      const before = old.get(name);
      if (!before || !isDeepStrictEqual(before, labels)) this.#emit({ kind: 'namespace', namespace: name, labels });
    }
    for (const name of old.keys()) if (!next.has(name)) this.#emit({ kind: 'namespace', namespace: name, labels: undefined });
  }

  #touched(namespace: string, serviceAccounts: readonly string[]): void {
    const unique = [...new Set(serviceAccounts)];
    if (unique.length > 0) this.#emit({ kind: 'serviceAccounts', namespace, serviceAccounts: unique });
  }

  #emit(change: IndexChange): void {
    for (const l of this.#listeners) l(change);
  }
}
