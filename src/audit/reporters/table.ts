/**
 * `-o table` (the default): one row per finding — object, rule, field path, the mode the
 * webhook would act in and what it would do (deny / warn), message — then a summary per rule
 * and per namespace. Columns are padded to their widest cell; the message comes last and is
 * never cut, so nothing a user needs to fix the object is lost.
 */
import type { Report, ReportFinding } from '../report.ts';
import { describeRef } from '../report.ts';
import { stripControls } from '../../text.ts';

function formatRows(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const action = (f: ReportFinding): string => (f.denies ? 'deny' : f.stale ? 'stale' : 'warn');

function location(f: ReportFinding): string {
  const { file, line } = f.object;
  return file === undefined ? '' : `${file}${line !== undefined ? `:${line}` : ''}`;
}

/** The findings table and the summary. */
export function renderTable(report: Report): string {
  const { summary: s } = report;
  const out: string[] = [];
  if (report.findings.length > 0) {
    const withFiles = report.findings.some((f) => f.object.file !== undefined);
    const header = [...(withFiles ? ['LOCATION'] : []), 'OBJECT', 'RULE', 'PATH', 'MODE', 'ACTION', 'MESSAGE'];
    const rows = report.findings.map((f) => [
      ...(withFiles ? [location(f)] : []),
      describeRef(f.object),
      f.rule,
      f.path || '-',
      f.mode,
      action(f),
      // Control characters would corrupt the terminal (messages quote user input).
      stripControls(f.message),
    ]);
    out.push(formatRows(header, rows), '');
  }
  const stale = s.stalePods > 0 ? `, ${s.stalePods} pod${s.stalePods === 1 ? '' : 's'} with stale identity labels` : '';
  out.push(
    `${s.objects} object${s.objects === 1 ? '' : 's'}: ${s.judged} judged, ${s.exempt} in exempt namespaces, ${s.notJudged} of kinds idgate does not judge.`,
    s.findings === 0
      ? 'No violations.'
      : `${s.findings} finding${s.findings === 1 ? '' : 's'}: ${s.denied} would be denied (${s.deniedObjects} object${s.deniedObjects === 1 ? '' : 's'} refused), ` +
          `${s.findings - s.denied} warning${s.findings - s.denied === 1 ? '' : 's'}${stale}.`,
  );
  const rules = Object.entries(s.byRule).sort(([a], [b]) => (a < b ? -1 : 1));
  if (rules.length > 0) {
    out.push(
      '',
      formatRows(
        ['RULE', 'FINDINGS', 'DENIED'],
        rules.map(([rule, c]) => [rule, String(c.findings), String(c.denied)]),
      ),
    );
  }
  const namespaces = Object.entries(s.byNamespace)
    .filter(([, c]) => c.findings > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  if (namespaces.length > 0) {
    out.push(
      '',
      formatRows(
        ['NAMESPACE', 'JUDGED', 'FAILING', 'FINDINGS', 'DENIED'],
        namespaces.map(([ns, c]) => [ns, String(c.judged), String(c.failing), String(c.findings), String(c.denied)]),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
