/** `-o yaml`: the same document as `-o json`, in YAML. */
import { stringify } from 'yaml';
import type { Report } from '../report.ts';

/** The report as one YAML document. */
export function renderYaml(report: Report): string {
  // aliasDuplicateObjects off: findings share ObjectRefs, and anchors would only confuse readers.
  return stringify(report, { aliasDuplicateObjects: false, lineWidth: 0 });
}
