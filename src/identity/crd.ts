/**
 * The OIDCGroupBinding CustomResourceDefinition (docs/design.md#oidcgroupbinding), written once:
 * manifests/base/crd-oidcgroupbinding.yaml is generated from it (`node scripts/generate.ts`), and
 * binding.ts validates every binding, from the cluster or from a file, with its openAPIV3Schema.
 * A TypeScript module rather than the YAML itself: the built image ships `dist/` only, not
 * `manifests/` (Dockerfile).
 */

/** The schema of one OIDCGroupBinding, as the API server applies it (a structural schema). */
export const BINDING_SCHEMA = {
  type: 'object',
  description: "Binds groups of a trusted OIDC issuer to ServiceAccounts of this binding's namespace.",
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['issuer', 'groups', 'serviceAccounts'],
      properties: {
        issuer: {
          type: 'string',
          description:
            'The https URL of the OIDC issuer (the "iss" claim of its tokens). It must also be one of the ' +
            "baseline's trustedIssuers, or the binding grants nothing.",
          pattern: '^https://[^\\s#?]+$',
          maxLength: 2048,
        },
        groups: {
          type: 'array',
          description: "Values of the issuer's groups claim granted to the ServiceAccounts.",
          minItems: 1,
          maxItems: 256,
          'x-kubernetes-list-type': 'set',
          items: {
            type: 'string',
            description: 'Compared exactly, so without leading or trailing spaces.',
            minLength: 1,
            maxLength: 1024,
            pattern: '^\\S([\\s\\S]*\\S)?$',
          },
        },
        serviceAccounts: {
          type: 'array',
          description:
            'ServiceAccount names in this namespace. DNS-1123 labels (at most 63 characters), because each name ' +
            'becomes the value of the idgate.dev/service-account Pod label.',
          minItems: 1,
          maxItems: 256,
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
        },
      },
    },
    status: {
      type: 'object',
      properties: {
        observedGeneration: { type: 'integer', format: 'int64' },
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          // metav1.Condition
          items: {
            type: 'object',
            required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
            properties: {
              type: {
                type: 'string',
                maxLength: 316,
                pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
              },
              status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
              observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
              lastTransitionTime: { type: 'string', format: 'date-time' },
              reason: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
              message: { type: 'string', maxLength: 32768 },
            },
          },
        },
      },
    },
  },
} as const;

/** Where OIDCGroupBindings are served: `/apis/<group>/<version>/<plural>`. */
export const BINDING_GROUP = 'idgate.dev';
export const BINDING_VERSION = 'v1alpha1';
export const BINDING_PLURAL = 'oidcgroupbindings';
const KIND = 'OIDCGroupBinding';

/** The CustomResourceDefinition manifests/ installs. */
export const BINDING_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: `${BINDING_PLURAL}.${BINDING_GROUP}`,
    labels: { 'app.kubernetes.io/name': 'idgate', 'app.kubernetes.io/component': 'crd' },
  },
  spec: {
    group: BINDING_GROUP,
    scope: 'Namespaced',
    names: {
      kind: KIND,
      listKind: `${KIND}List`,
      plural: BINDING_PLURAL,
      singular: 'oidcgroupbinding',
      shortNames: ['ogb'],
      categories: ['idgate'],
    },
    versions: [
      {
        name: BINDING_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Issuer', type: 'string', jsonPath: '.spec.issuer' },
          { name: 'Groups', type: 'string', jsonPath: '.spec.groups' },
          { name: 'ServiceAccounts', type: 'string', jsonPath: '.spec.serviceAccounts' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: { openAPIV3Schema: BINDING_SCHEMA },
      },
    ],
  },
} as const;

export const BINDING_API_VERSION = `${BINDING_GROUP}/${BINDING_VERSION}` as const;
export const BINDING_KIND = KIND;
