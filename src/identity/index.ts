/**
 * The in-memory binding index every identity source feeds: bindings keyed by namespace/name,
 * indexed by (namespace, ServiceAccount) so a lookup on the admission path is two map reads.
 */
import type { Binding, IdentityResolver, ServiceAccountIdentity } from './types.ts';
import { encodeGroup } from './labels.ts';

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * The bindings of one index key: nearly every key (a ServiceAccount, a group) has exactly one
 * binding, stored bare; a list only once a second binding shares the key. A one-element array
 * per key cost 56 bytes of the about 750 each binding took (3 keys per binding in bench/fixtures.ts).
 */
type Entry = Binding | Binding[];

const entryBindings = (entry: Entry | undefined): readonly Binding[] => (entry === undefined ? [] : Array.isArray(entry) ? entry : [entry]);

function addTo(index: Map<string, Entry>, k: string, binding: Binding): void {
  const entry = index.get(k);
  if (entry === undefined) index.set(k, binding);
  else if (!Array.isArray(entry)) {
    if (entry !== binding) index.set(k, [entry, binding]);
  } else if (!entry.includes(binding)) entry.push(binding);
}

function removeFrom(index: Map<string, Entry>, k: string, binding: Binding): void {
  const entry = index.get(k);
  if (entry === binding) index.delete(k);
  else if (Array.isArray(entry)) {
    const at = entry.indexOf(binding);
    if (at < 0) return;
    entry.splice(at, 1);
    if (entry.length === 1) index.set(k, entry[0]!);
  }
}

export class BindingIndex implements IdentityResolver {
  #synced = false;
  /** Bumped by every change of the bindings: what was resolved before may have changed. */
  #generation = 0;
  readonly #bindings = new Map<string, Binding>();
  // The two indexes hold an Entry (a binding, or an array of them), not Sets or Maps: nearly every
  // key has one binding, and a Set or Map per key made the index 7.8 MB for 10,000 bindings,
  // arrays 4.4 MB (heap used).
  /**
   * namespace → ServiceAccount → bindings that list it. Nested rather than keyed by
   * `namespace/serviceAccount`: a composite key is a string of its own per ServiceAccount (a
   * concatenation, then its flat copy), and a lookup had to build one.
   */
  readonly #bySa = new Map<string, Map<string, Entry>>();
  /**
   * One copy of each namespace and issuer string: every binding of a namespace (and nearly every
   * binding) repeats them, and the bindings file's and the API server's copies are distinct strings.
   */
  readonly #shared = new Map<string, string>();
  readonly #namespaces = new Map<string, Readonly<Record<string, string>>>();
  /** Namespaces being deleted (deletionTimestamp set): their contents may all be removed. */
  readonly #terminating = new Set<string>();
  /** encoded group label name → bindings providing it. */
  readonly #groupLabels = new Map<string, Entry>();

  /** Marks the first full sync done; `ready()` is true from then on. */
  markSynced(): void {
    this.#synced = true;
  }

  ready(): boolean {
    return this.#synced;
  }

  generation(): number {
    return this.#generation;
  }

  /** Adds or replaces a binding (by namespace/name). */
  upsert(given: Binding): void {
    this.delete(given.namespace, given.name);
    this.#generation++;
    const binding: Binding = { ...given, namespace: this.#share(given.namespace), issuer: this.#share(given.issuer) };
    this.#bindings.set(key(binding.namespace, binding.name), binding);
    let bySa = this.#bySa.get(binding.namespace);
    if (!bySa) {
      bySa = new Map();
      this.#bySa.set(binding.namespace, bySa);
    }
    for (const sa of binding.serviceAccounts) addTo(bySa, sa, binding);
    for (const group of binding.groups) addTo(this.#groupLabels, encodeGroup(group), binding);
  }

  #share(s: string): string {
    const known = this.#shared.get(s);
    if (known !== undefined) return known;
    this.#shared.set(s, s);
    return s;
  }

  delete(namespace: string, name: string): void {
    const old = this.#bindings.get(key(namespace, name));
    if (!old) return;
    this.#generation++;
    this.#bindings.delete(key(namespace, name));
    const bySa = this.#bySa.get(namespace);
    if (bySa) {
      for (const sa of old.serviceAccounts) removeFrom(bySa, sa, old);
      if (bySa.size === 0) this.#bySa.delete(namespace);
    }
    for (const group of old.groups) removeFrom(this.#groupLabels, encodeGroup(group), old);
  }

  /** Replaces every binding at once (a relist, or a reread of the bindings file). */
  replaceAll(bindings: Iterable<Binding>): void {
    this.#generation++;
    this.#bindings.clear();
    this.#bySa.clear();
    this.#groupLabels.clear();
    this.#shared.clear();
    for (const b of bindings) this.upsert(b);
  }

  /** The binding stored under namespace/name. */
  get(namespace: string, name: string): Binding | undefined {
    return this.#bindings.get(key(namespace, name));
  }

  /** How many bindings there are (without copying them, as {@link BindingIndex.bindings} does). */
  size(): number {
    return this.#bindings.size;
  }

  /** All bindings, for reporting. */
  bindings(): Binding[] {
    return [...this.#bindings.values()];
  }

  setNamespace(name: string, labels: Readonly<Record<string, string>>, terminating = false): void {
    this.#namespaces.set(name, labels);
    if (terminating) this.#terminating.add(name);
    else this.#terminating.delete(name);
  }

  deleteNamespace(name: string): void {
    this.#namespaces.delete(name);
    this.#terminating.delete(name);
  }

  replaceNamespaces(entries: Iterable<[string, Readonly<Record<string, string>>, boolean?]>): void {
    this.#namespaces.clear();
    this.#terminating.clear();
    for (const [name, labels, terminating] of entries) this.setNamespace(name, labels, terminating);
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.#namespaces.get(namespace);
  }

  namespaceTerminating(namespace: string): boolean {
    return this.#terminating.has(namespace);
  }

  resolve(namespace: string, serviceAccount: string, trustedIssuers: ReadonlySet<string>): ServiceAccountIdentity {
    const groups = new Set<string>();
    const used: string[] = [];
    for (const b of entryBindings(this.#bySa.get(namespace)?.get(serviceAccount))) {
      if (!trustedIssuers.has(b.issuer)) continue;
      used.push(key(b.namespace, b.name));
      for (const g of b.groups) groups.add(g);
    }
    return { namespace, serviceAccount, groups: [...groups].sort(), bindings: used.sort() };
  }

  providesGroupLabel(labelName: string, trustedIssuers: ReadonlySet<string>): boolean {
    return entryBindings(this.#groupLabels.get(labelName)).some((b) => trustedIssuers.has(b.issuer));
  }
}
