/**
 * The IdentityBaseline (docs/design.md#baseline), written once: {@link BASELINE_SCHEMA} is the JSON
 * Schema the loader (baseline/config.ts) validates every file with, its `default` values the
 * documented defaults (ajv applies them, `useDefaults`, so this schema is the single place that
 * says what an omitted field means), and {@link Baseline}, the configuration as the rest of the
 * code sees it once loaded (validated, defaults applied, frozen), is derived from it.
 *
 * Its own module, imported by the loader and the rules (baseline/), the injector (mutate/), audit,
 * the controllers and the webhook: the rules build the expected sidecar with the injector's own
 * code, so the injector must not import baseline/ for the configuration's types.
 */
import type { FromSchema } from 'json-schema-to-ts';

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

const MODES = ['enforce', 'audit', 'off'] as const;
export type Mode = (typeof MODES)[number];

/** A DNS-1123 label: what Kubernetes accepts as a Namespace name (at most 63 characters). */
const NAMESPACE_NAME = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';

/**
 * An OIDC issuer: `https://` (OpenID Connect Discovery 1.0, section 3: the issuer "MUST be a
 * URL using the https scheme"), with plain `http://` tolerated only for loopback development
 * issuers.
 */
const ISSUER_URL = '^(https://[^\\s/?#]+|http://(localhost|127\\.0\\.0\\.1|\\[::1\\])(:[0-9]+)?)(/[^\\s?#]*)?$';

/** A resource quantity as Kubernetes writes them (`10m`, `32Mi`, `1.5`, `1e3`). */
const QUANTITY = '^[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+|[mkMGTPE]|[KMGTPE]i|u|n)?$';

const quantity = { type: 'string', pattern: QUANTITY } as const;
const resourceList = (cpu: string, memory: string) =>
  ({
    type: 'object',
    additionalProperties: false,
    default: { cpu, memory },
    properties: { cpu: quantity, memory: quantity, 'ephemeral-storage': quantity },
  }) as const;

/** The schema ajv compiles; `default` values are the documented defaults (docs/design.md#baseline). */
export const BASELINE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'trustedIssuers', 'sidecar'],
  properties: {
    apiVersion: { const: 'idgate.dev/v1alpha1' },
    kind: { const: 'IdentityBaseline' },
    mode: { enum: MODES, default: 'enforce' },
    mutation: { enum: ['apply', 'dry-run'], default: 'apply' },
    trustedIssuers: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: ISSUER_URL },
    },
    exemptNamespaces: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', pattern: NAMESPACE_NAME },
      default: ['kube-system', 'kube-public', 'kube-node-lease', 'idgate-system'],
    },
    namespaces: {
      type: 'object',
      default: {},
      propertyNames: { pattern: NAMESPACE_NAME },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          // Overrides the global mode for objects in this namespace.
          mode: { enum: MODES },
          // Glob patterns (`*` only) of the groups bindings in this namespace may grant.
          allowedGroups: { type: 'array', items: { type: 'string', minLength: 1 } },
        },
      },
    },
    identity: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // "keep claims small": every group is a label on the Pod and a claim in every token.
        maxGroupsPerServiceAccount: { type: 'integer', minimum: 1, maximum: 1000, default: 8 },
        // What rules needing the identity cache do while it is not synced: deny (retryable) or allow.
        onUnavailable: { enum: ['deny', 'allow'], default: 'deny' },
      },
    },
    sidecar: {
      type: 'object',
      additionalProperties: false,
      required: ['image'],
      properties: {
        image: { type: 'string', minLength: 1, pattern: '^\\S+$' },
        // Image references pod-sidecar accepts besides `image` and its digest-pinned forms
        // (`repo@sha256:…`, `repo:tag@sha256:…`, always accepted): `*`-only glob patterns matched
        // against the whole reference, for registry mirrors and re-tagging webhooks
        // (rules/sidecar-image.ts). A pattern also accepts the digest-pinned form of what it matches.
        acceptedImages: { type: 'array', uniqueItems: true, default: [], items: { type: 'string', minLength: 1, pattern: '^\\S+$' } },
        // `native`: init container with restartPolicy Always (Kubernetes ≥ 1.29); `container`: a plain container.
        mode: { enum: ['native', 'container'], default: 'native' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 4180 },
        // Audience of the projected ServiceAccount token and the proxy's expected `aud`.
        audience: { type: 'string', minLength: 1, default: 'idgate' },
        // Issuers the injected proxy trusts; the loader defaults them to the baseline's trustedIssuers.
        issuers: { type: 'array', minItems: 1, items: { type: 'string', pattern: ISSUER_URL } },
        // The cluster's ServiceAccount issuer (kube-apiserver --service-account-issuer), trusted by the
        // proxy too, so workloads can call each other with the projected token idgate mounts (audience
        // `audience`; docs/design.md#token-volume); the proxy fetches that issuer's keys with its own
        // ServiceAccount credentials. Unset: only `issuers` are trusted.
        kubernetesIssuer: { type: 'string', pattern: '^https://[^\\s/?#]+(/[^\\s?#]*)?$' },
        // The API server refuses projected token expirations under 10 minutes and at or above
        // 2^32 seconds (core/v1 ServiceAccountTokenProjection.expirationSeconds validation).
        tokenExpirationSeconds: { type: 'integer', minimum: 600, maximum: 4294967295, default: 3600 },
        resources: {
          type: 'object',
          additionalProperties: false,
          default: {},
          // Memory: the proxy idles at about 77 MB RSS on Node 24 (measured, BENCHMARKS.md); 64Mi would
          // get it OOM-killed, so request 64Mi and allow 128Mi.
          properties: { requests: resourceList('10m', '64Mi'), limits: resourceList('200m', '128Mi') },
        },
        // Whether `idgate.dev/inject: "false"` on a Pod is honoured.
        allowOptOut: { type: 'boolean', default: true },
      },
    },
    rules: {
      type: 'object',
      default: {},
      propertyNames: { enum: RULE_IDS },
      properties: {
        // docs/design.md#modes: the one rule modes never soften (evaluate.ts ALWAYS_ENFORCED).
        'pod-identity-labels': {
          const: 'enforce',
          description:
            'pod-identity-labels is always enforced, since identity labels spoofed in one namespace would ' +
            'fool the NetworkPolicies of every other; remove this line',
        },
      },
      additionalProperties: { enum: MODES },
    },
  },
} as const;

/**
 * A valid file as ajv returns it: `useDefaults` has filled every defaulted property in, so
 * json-schema-to-ts makes those required (its default, `keepDefaultedPropertiesOptional: false`).
 */
export type BaselineFile = FromSchema<typeof BASELINE_SCHEMA>;

/** Makes every nested object and array of the validated JSON readonly, as the loader freezes it. */
type DeepReadonly<T> = T extends readonly (infer I)[] ? readonly DeepReadonly<I>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** What the schema cannot say: the keys `propertyNames` allows, and what the loader computes. */
type Loaded = Omit<BaselineFile, 'sidecar' | 'rules'> & {
  /** `issuers` defaults to the baseline's trustedIssuers (baseline/config.ts). */
  sidecar: Omit<BaselineFile['sidecar'], 'issuers'> & { issuers: string[] };
  rules: Partial<Record<RuleId, Mode>>;
};

/** The loaded IdentityBaseline; baseline/config.ts is the only producer. */
export type Baseline = DeepReadonly<Loaded> & {
  /** The trustedIssuers as a set, for the hot path. */
  readonly trustedIssuerSet: ReadonlySet<string>;
};
export type SidecarConfig = Baseline['sidecar'];
export type NamespacePolicy = Baseline['namespaces'][string];
