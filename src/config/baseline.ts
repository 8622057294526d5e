/**
 * The IdentityBaseline (docs/design.md#baseline) as the rest of the code sees it once loaded: validated,
 * defaults applied, frozen. The loader (baseline/config.ts) is the only producer.
 *
 * Its own module, imported by the loader and the rules (baseline/), the injector (mutate/), audit,
 * the controllers and the webhook: the rules build the expected sidecar with the injector's own
 * code, so the injector must not import baseline/ for the configuration's types.
 */

export type Mode = 'enforce' | 'audit' | 'off';

export const RULE_IDS = [
  'pod-identity-labels',
  'pod-service-account',
  'pod-host-network',
  'pod-sidecar',
  'pod-max-groups',
  'workload-template',
  'networkpolicy-policy-types',
  'networkpolicy-allow-all',
  'networkpolicy-identity-peers',
  'networkpolicy-ipblock-world',
  'networkpolicy-unknown-group',
  'networkpolicy-default-deny',
  'networkpolicy-sidecar-port',
  'binding-trusted-issuer',
  'binding-group-ownership',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

export interface NamespacePolicy {
  /** Overrides the global mode for objects in this namespace. */
  readonly mode?: Mode;
  /** Glob patterns (`*` only) of the groups bindings in this namespace may grant. */
  readonly allowedGroups?: readonly string[];
}

export interface SidecarConfig {
  readonly image: string;
  /**
   * Image references pod-sidecar accepts besides `image` and its digest-pinned forms
   * (`repo@sha256:…`, `repo:tag@sha256:…`, always accepted): `*`-only glob patterns matched
   * against the whole reference, for registry mirrors and re-tagging webhooks. A pattern also
   * accepts the digest-pinned form of what it matches. Default: none.
   */
  readonly acceptedImages: readonly string[];
  /** `native`: init container with restartPolicy Always (Kubernetes ≥ 1.29); `container`: a plain container. */
  readonly mode: 'native' | 'container';
  readonly port: number;
  /** Audience of the projected ServiceAccount token and the proxy's expected `aud`. */
  readonly audience: string;
  /** Issuers the injected proxy trusts; defaults to the baseline's trustedIssuers. */
  readonly issuers: readonly string[];
  /**
   * The cluster's ServiceAccount issuer, trusted by the proxy too: a workload presents the
   * projected token idgate mounts (audience `audience`), and the proxy fetches that issuer's keys
   * with its own ServiceAccount credentials. Unset: only `issuers` are trusted.
   */
  readonly kubernetesIssuer?: string;
  readonly tokenExpirationSeconds: number;
  readonly resources: {
    readonly requests: Readonly<Record<string, string>>;
    readonly limits: Readonly<Record<string, string>>;
  };
  /** Whether `idgate.dev/inject: "false"` on a Pod is honoured. */
  readonly allowOptOut: boolean;
}

export interface Baseline {
  readonly apiVersion: 'idgate.dev/v1alpha1';
  readonly kind: 'IdentityBaseline';
  readonly mode: Mode;
  readonly mutation: 'apply' | 'dry-run';
  readonly trustedIssuers: readonly string[];
  /** The same list as a set, for the hot path. */
  readonly trustedIssuerSet: ReadonlySet<string>;
  readonly exemptNamespaces: readonly string[];
  readonly namespaces: Readonly<Record<string, NamespacePolicy>>;
  readonly identity: {
    readonly maxGroupsPerServiceAccount: number;
    /** What rules needing the identity cache do while it is not synced: deny (retryable) or allow. */
    readonly onUnavailable: 'deny' | 'allow';
  };
  readonly sidecar: SidecarConfig;
  readonly rules: Readonly<Partial<Record<RuleId, Mode>>>;
}
