/**
 * JSON Schema of the IdentityBaseline file (docs/design.md#baseline), with the documented defaults.
 * ajv applies the defaults (`useDefaults`) while it validates, so this schema is the single
 * place that says what an omitted field means.
 */
import { RULE_IDS } from '../config/baseline.ts';

const MODES = ['enforce', 'audit', 'off'] as const;

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

const quantity = { type: 'string', pattern: QUANTITY };
const resourceList = (cpu: string, memory: string) => ({
  type: 'object',
  additionalProperties: false,
  default: { cpu, memory },
  properties: { cpu: quantity, memory: quantity, 'ephemeral-storage': quantity },
});

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
          mode: { enum: MODES },
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
        onUnavailable: { enum: ['deny', 'allow'], default: 'deny' },
      },
    },
    sidecar: {
      type: 'object',
      additionalProperties: false,
      required: ['image'],
      properties: {
        image: { type: 'string', minLength: 1, pattern: '^\\S+$' },
        // Other forms of the sidecar image that pod-sidecar accepts (registry mirrors, other
        // pinning): `*`-only globs over the whole reference (rules/sidecar-image.ts).
        acceptedImages: { type: 'array', uniqueItems: true, default: [], items: { type: 'string', minLength: 1, pattern: '^\\S+$' } },
        mode: { enum: ['native', 'container'], default: 'native' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 4180 },
        audience: { type: 'string', minLength: 1, default: 'idgate' },
        issuers: { type: 'array', minItems: 1, items: { type: 'string', pattern: ISSUER_URL } },
        // The cluster's ServiceAccount issuer (kube-apiserver --service-account-issuer), so
        // workloads can call each other with the projected token idgate mounts (docs/design.md#token-volume).
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
