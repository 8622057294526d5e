/**
 * The in-memory binding index every identity source feeds: bindings keyed by namespace/name,
 * indexed by (namespace, ServiceAccount) so a lookup on the admission path is two map reads.
 */
import type { Binding, IdentityResolver, ServiceAccountIdentity } from './types.ts';
import { encodeGroup } from './labels.ts';

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

export class BindingIndex implements IdentityResolver {
  #synced = false;
  readonly #bindings = new Map<string, Binding>();
  /** `namespace/serviceAccount` → bindings that list it. */
  readonly #bySa = new Map<string, Set<Binding>>();
  readonly #namespaces = new Map<string, Readonly<Record<string, string>>>();
  /** encoded group label name → number of bindings providing it, with their issuers. */
  readonly #groupLabels = new Map<string, Map<Binding, string>>();

  /** Marks the first full sync done; `ready()` is true from then on. */
  markSynced(): void {
    this.#synced = true;
  }

  ready(): boolean {
    return this.#synced;
  }

  /** Adds or replaces a binding (by namespace/name). */
  upsert(binding: Binding): void {
    this.delete(binding.namespace, binding.name);
    this.#bindings.set(key(binding.namespace, binding.name), binding);
    for (const sa of binding.serviceAccounts) {
      const k = key(binding.namespace, sa);
      let set = this.#bySa.get(k);
      if (!set) this.#bySa.set(k, (set = new Set()));
      set.add(binding);
    }
    for (const group of binding.groups) {
      const label = encodeGroup(group);
      let providers = this.#groupLabels.get(label);
      if (!providers) this.#groupLabels.set(label, (providers = new Map()));
      providers.set(binding, binding.issuer);
    }
  }

  delete(namespace: string, name: string): void {
    const old = this.#bindings.get(key(namespace, name));
    if (!old) return;
    this.#bindings.delete(key(namespace, name));
    for (const sa of old.serviceAccounts) {
      const k = key(namespace, sa);
      const set = this.#bySa.get(k);
      set?.delete(old);
      if (set?.size === 0) this.#bySa.delete(k);
    }
    for (const group of old.groups) {
      const label = encodeGroup(group);
      const providers = this.#groupLabels.get(label);
      providers?.delete(old);
      if (providers?.size === 0) this.#groupLabels.delete(label);
    }
  }

  /** Replaces every binding at once (a relist, or a reread of the bindings file). */
  replaceAll(bindings: Iterable<Binding>): void {
    this.#bindings.clear();
    this.#bySa.clear();
    this.#groupLabels.clear();
    for (const b of bindings) this.upsert(b);
  }

  /** All bindings, for reporting. */
  bindings(): Binding[] {
    return [...this.#bindings.values()];
  }

  setNamespace(name: string, labels: Readonly<Record<string, string>>): void {
    this.#namespaces.set(name, labels);
  }

  deleteNamespace(name: string): void {
    this.#namespaces.delete(name);
  }

  replaceNamespaces(entries: Iterable<[string, Readonly<Record<string, string>>]>): void {
    this.#namespaces.clear();
    for (const [name, labels] of entries) this.#namespaces.set(name, labels);
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.#namespaces.get(namespace);
  }

  resolve(namespace: string, serviceAccount: string, trustedIssuers: ReadonlySet<string>): ServiceAccountIdentity {
    const groups = new Set<string>();
    const used: string[] = [];
    for (const b of this.#bySa.get(key(namespace, serviceAccount)) ?? []) {
      if (!trustedIssuers.has(b.issuer)) continue;
      used.push(key(b.namespace, b.name));
      for (const g of b.groups) groups.add(g);
    }
    return { namespace, serviceAccount, groups: [...groups].sort(), bindings: used.sort() };
  }

  providesGroupLabel(labelName: string, trustedIssuers: ReadonlySet<string>): boolean {
    for (const issuer of this.#groupLabels.get(labelName)?.values() ?? []) {
      if (trustedIssuers.has(issuer)) return true;
    }
    return false;
  }
}
