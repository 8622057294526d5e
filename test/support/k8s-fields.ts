/**
 * Unknown-field detection for Kubernetes objects, the check `kubectl apply --validate=strict`
 * makes: every field must be one the API declares. kubernetes-models validates types and
 * required fields but lets unknown fields through (the OpenAPI schemas do not forbid them), so a
 * typo such as `imagePullPolicyy` would pass it. @kubernetes/client-node's models are generated
 * from the same OpenAPI document and list each type's fields (`getAttributeTypeMap`).
 */
import * as k8s from '@kubernetes/client-node';

interface Model {
  getAttributeTypeMap(): Array<{ baseName: string; type: string }>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** client-node's model for an apiVersion and kind (`apps/v1` Deployment → V1Deployment), or undefined. */
export function modelName(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').at(-1) ?? '';
  const name = version.charAt(0).toUpperCase() + version.slice(1) + kind;
  return model(name) ? name : undefined;
}

function model(type: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type] as Partial<Model> | undefined;
  return typeof candidate?.getAttributeTypeMap === 'function' ? (candidate as Model) : undefined;
}

/** The paths of fields in `value` that `type` (a client-node type string) does not declare. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return isRecord(value) ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}[${k}]`)) : [];
  const m = model(type);
  if (m === undefined || !isRecord(value)) return []; // string, number, IntOrString, any…: kubernetes-models checks those
  const fields = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) => {
    const fieldType = fields.get(k);
    return fieldType === undefined ? [`${path}.${k}`.replace(/^\./, '')] : unknownFields(v, fieldType, `${path}.${k}`);
  });
}
