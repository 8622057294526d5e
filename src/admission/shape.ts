/**
 * Guards the shape of the objects idgate reads. The API server decodes objects into typed
 * structs before calling webhooks, so a real review always has these types; anything else
 * (a hand-written review, a fuzzer, a bug upstream) is refused with 400 naming the field,
 * rather than reaching the rules and the mutation, which may then trust the types.
 * Only the fields idgate reads are constrained; everything else passes through untouched.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ReviewError } from './review.ts';
import type { AdmissionRequest } from './types.ts';

const str = { type: 'string' };
const strings = { type: 'array', items: str };
const stringMap = { type: 'object', additionalProperties: str };
const int = { type: 'integer' };

const labelSelector = {
  type: 'object',
  properties: {
    matchLabels: stringMap,
    matchExpressions: {
      type: 'array',
      items: { type: 'object', properties: { key: str, operator: str, values: strings } },
    },
  },
};

const metadata = {
  type: 'object',
  properties: {
    name: str,
    generateName: str,
    namespace: str,
    labels: stringMap,
    annotations: stringMap,
    ownerReferences: { type: 'array', items: { type: 'object' } },
  },
};

const container = {
  type: 'object',
  properties: {
    name: str,
    image: str,
    command: strings,
    args: strings,
    ports: { type: 'array', items: { type: 'object', properties: { name: str, containerPort: int, protocol: str } } },
    env: { type: 'array', items: { type: 'object', properties: { name: str } } },
    volumeMounts: { type: 'array', items: { type: 'object', properties: { name: str, mountPath: str, readOnly: { type: 'boolean' } } } },
    securityContext: {
      type: 'object',
      properties: {
        capabilities: { type: 'object', properties: { add: strings, drop: strings } },
        seccompProfile: { type: 'object', properties: { type: str } },
      },
    },
    resources: { type: 'object', properties: { requests: { type: 'object' }, limits: { type: 'object' } } },
    restartPolicy: str,
  },
};

const podSpec = {
  type: 'object',
  properties: {
    serviceAccountName: str,
    serviceAccount: str,
    hostNetwork: { type: 'boolean' },
    containers: { type: 'array', items: container },
    initContainers: { type: 'array', items: container },
    volumes: { type: 'array', items: { type: 'object', properties: { name: str } } },
  },
};

const podTemplate = { type: 'object', properties: { metadata, spec: podSpec } };
const withTemplate = { type: 'object', properties: { metadata, spec: { type: 'object', properties: { template: podTemplate } } } };

const peer = {
  type: 'object',
  properties: {
    podSelector: labelSelector,
    namespaceSelector: labelSelector,
    ipBlock: { type: 'object', properties: { cidr: str, except: strings } },
  },
};

const SCHEMAS: Record<string, object> = {
  Pod: { type: 'object', properties: { metadata, spec: podSpec } },
  Deployment: withTemplate,
  StatefulSet: withTemplate,
  DaemonSet: withTemplate,
  ReplicaSet: withTemplate,
  Job: withTemplate,
  CronJob: {
    type: 'object',
    properties: {
      metadata,
      spec: {
        type: 'object',
        properties: { jobTemplate: { type: 'object', properties: { spec: { type: 'object', properties: { template: podTemplate } } } } },
      },
    },
  },
  NetworkPolicy: {
    type: 'object',
    properties: {
      metadata,
      spec: {
        type: 'object',
        properties: {
          podSelector: labelSelector,
          policyTypes: strings,
          ingress: { type: 'array', items: { type: 'object', properties: { from: { type: 'array', items: peer }, ports: { type: 'array' } } } },
          egress: { type: 'array' },
        },
      },
    },
  },
  OIDCGroupBinding: {
    type: 'object',
    properties: { metadata, spec: { type: 'object', properties: { issuer: str, groups: strings, serviceAccounts: strings } } },
  },
};

const ajv = new Ajv({ allErrors: false, strict: false });
const validators = new Map<string, ValidateFunction>(Object.entries(SCHEMAS).map(([kind, schema]) => [kind, ajv.compile(schema)]));

/** `/spec/containers/0/ports` → `spec.containers[0].ports`. */
function dotted(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, seg) => (/^\d+$/.test(seg) ? `${path}[${seg}]` : path ? `${path}.${seg}` : seg), '');
}

/**
 * Throws a 400 {@link ReviewError} when `request.object` or `request.oldObject` is of another
 * kind than `request.kind`, or has a field idgate reads with the wrong type.
 */
export function guardObjectShape(request: AdmissionRequest): void {
  const kind = request.kind.kind;
  const validate = validators.get(kind);
  for (const field of ['object', 'oldObject'] as const) {
    const obj = request[field];
    if (obj === undefined || obj === null) continue;
    if (obj.kind !== undefined && obj.kind !== kind) {
      throw new ReviewError(400, 'ERR_WRONG_OBJECT_KIND', `request.${field} is a ${JSON.stringify(obj.kind)} but request.kind is ${kind}`);
    }
    if (validate && !validate(obj)) {
      const error = validate.errors?.[0];
      const path = dotted(error?.instancePath ?? '');
      throw new ReviewError(400, 'ERR_BAD_OBJECT', `request.${field}${path ? `.${path}` : ''}: ${error?.message ?? 'invalid'} (not a valid ${kind})`);
    }
  }
}
