/** Validators for idgate's report JSON and for PolicyReports (against the upstream CRD schema). */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

const read = (relative: string): string => readFileSync(new URL(relative, import.meta.url), 'utf8');

/** The JSON schema of `-o json` (src/audit/report.schema.json). */
export function reportValidator(): ValidateFunction {
  return new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(read('../../src/audit/report.schema.json')));
}

/**
 * Closes every object schema that lists properties (additionalProperties: false). The API
 * server prunes unknown fields of a structural schema silently; closing it makes a field idgate
 * writes but the CRD does not know fail the test instead of vanishing in the cluster.
 */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closed(s)])) : closed(v);
  if ('properties' in out && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

/** The PolicyReport v1alpha2 openAPIV3Schema from test/fixtures/check/policyreport-crd.yaml, closed. */
export function policyReportValidator(): ValidateFunction {
  const crd = parse(read('../fixtures/check/policyreport-crd.yaml')) as { spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: unknown } }> } };
  const version = crd.spec.versions.find((v) => v.name === 'v1alpha2');
  if (!version) throw new Error('no v1alpha2 in the PolicyReport CRD fixture');
  // strict off: the CRD uses OpenAPI's int32/int64 formats, which ajv does not know.
  return new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile(closed(version.schema.openAPIV3Schema) as object);
}
