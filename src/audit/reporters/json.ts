/** `-o json`: the {@link Report} as is; its shape is src/audit/report.schema.json. */
import type { Report } from '../report.ts';

/** The report as indented JSON, newline-terminated. */
export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
