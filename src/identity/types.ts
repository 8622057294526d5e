/**
 * The identity model (docs/design.md#identity-model): OIDCGroupBindings bind groups of a trusted issuer to
 * ServiceAccounts of their own namespace. Every identity source (file, Kubernetes informer)
 * feeds the same {@link BindingIndex}; the rules and the mutation only see {@link IdentityResolver}.
 */

/** The fields of an OIDCGroupBinding that idgate uses. */
export interface Binding {
  readonly namespace: string;
  readonly name: string;
  readonly issuer: string;
  readonly groups: readonly string[];
  readonly serviceAccounts: readonly string[];
}

/** What the bindings give one ServiceAccount. */
export interface ServiceAccountIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Real group names, sorted, unique, from bindings whose issuer is trusted. */
  readonly groups: readonly string[];
  /** `namespace/name` of the bindings used, sorted. */
  readonly bindings: readonly string[];
}

/** Read side of the identity cache: in-memory, never performs I/O (no API call on the admission path). */
export interface IdentityResolver {
  /** False until the source has completed its first full sync (file parsed, informers listed). */
  ready(): boolean;
  /**
   * A number that changes whenever what {@link IdentityResolver.resolve} returns may change, so a
   * caller may keep resolutions until it does; absent: nothing may be kept.
   */
  generation?(): number;
  /** The groups the bindings give `namespace/serviceAccount`, counting only trusted issuers. */
  resolve(namespace: string, serviceAccount: string, trustedIssuers: ReadonlySet<string>): ServiceAccountIdentity;
  /** True when at least one binding (of any namespace, trusted issuer) provides this group label name. */
  providesGroupLabel(labelName: string, trustedIssuers: ReadonlySet<string>): boolean;
  /** Labels of a Namespace from the Namespace cache, or undefined when unknown. */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** Whether the Namespace is being deleted (false when unknown). */
  namespaceTerminating(namespace: string): boolean;
}
