/**
 * The files generated from the code, as text: each is written once in `src/` and rendered here.
 * `node scripts/generate.ts` writes them; test/kube/crd.test.ts and test/audit/report-schema.test.ts fail
 * when a committed copy differs.
 */
import { stringify } from 'yaml';
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
