/**
 * The files generated from the code, as text: each is written once in `src/` and rendered here.
 * `node scripts/generate.ts` writes them; test/kube/crd.test.ts and test/audit/report-schema.test.ts fail
 * when a committed copy differs from what they render.
 */
import { stringify } from 'yaml';
import { RULE_IDS } from '../src/config/baseline.ts';
import { BINDING_CRD } from '../src/identity/crd.ts';

/** The OIDCGroupBinding CRD file, relative to the repository root. */
export const CRD_FILE = 'manifests/base/crd-oidcgroupbinding.yaml';

/** manifests/base/crd-oidcgroupbinding.yaml: src/identity/crd.ts as YAML. */
export function renderCrd(): string {
  const header = [
    '# OIDCGroupBinding (docs/design.md#oidcgroupbinding): binds groups of a trusted OIDC issuer to ServiceAccounts of',
    "# the binding's own namespace. Generated from src/identity/crd.ts by `node scripts/generate.ts`: edit",
    '# that file, not this one. idgate validates bindings from a file with the same schema.',
  ];
  return `${header.join('\n')}\n${stringify(BINDING_CRD, { lineWidth: 120 })}`;
}

/** The report's JSON Schema, relative to the repository root. */
export const REPORT_SCHEMA_FILE = 'src/audit/report.schema.json';

/** The `"ruleId": { "enum": [...] }` definition of report.schema.json, which lists the rule ids. */
const RULE_ID_ENUM = /("ruleId": \{[^{}[\]]*"enum": )\[[^\]]*\]/;

/**
 * src/audit/report.schema.json with its rule-id enum set to RULE_IDS (src/config/baseline.ts), the
 * one list of rule ids; the rest of the file, written by hand, is kept as it is.
 */
export function renderReportSchema(current: string): string {
  if (!RULE_ID_ENUM.test(current)) throw new Error(`${REPORT_SCHEMA_FILE}: no "ruleId": { "enum": [...] } definition to fill`);
  const list = `[\n${RULE_IDS.map((id) => `        ${JSON.stringify(id)}`).join(',\n')}\n      ]`;
  return current.replace(RULE_ID_ENUM, (_, head: string) => `${head}${list}`);
}
