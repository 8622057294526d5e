/**
 * `-o policyreport` and `--apply-reports`: one `wgpolicyk8s.io/v1alpha2` PolicyReport per
 * namespace, the format Kyverno and Policy Reporter users already read (CRD:
 * kubernetes-sigs/wg-policy-prototypes, policy-report/crd/v1alpha2).
 *
 * - policy `idgate`, rule = the rule id, result `fail` when the webhook would deny (mode
 *   enforce) and `warn` otherwise (mode audit, warn-only rules, stale identity labels);
 * - only failing results are listed; `summary.pass` counts the objects judged in the namespace
 *   without any finding (listing a pass result for each would make reports as large as the
 *   cluster);
 * - a namespace with judged objects but no finding still gets a report (all zeros), so a fixed
 *   namespace's old report is overwritten rather than left stale.
 */
import { stringify } from 'yaml';
import type { Report, ReportFinding } from '../report.ts';

/** The name of idgate's report in each namespace. */
export const POLICY_REPORT_NAME = 'idgate';
/** Label on every report idgate writes (Kubernetes recommended labels). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** The PolicyReport API version Policy Reporter and Kyverno read. */
export const POLICY_REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';

/** One result of a PolicyReport: one finding of one object. */
export interface PolicyReportResult {
  policy: string;
  rule: string;
  result: 'fail' | 'warn';
  message: string;
  resources: Array<{ apiVersion: string; kind: string; name: string; namespace?: string; uid?: string }>;
  properties: Record<string, string>;
  scored: boolean;
  source: string;
  timestamp: { seconds: number; nanos: number };
}

/** A `wgpolicyk8s.io/v1alpha2` PolicyReport, as written to the cluster. */
export interface PolicyReport {
  apiVersion: typeof POLICY_REPORT_API_VERSION;
  kind: 'PolicyReport';
  metadata: { name: string; namespace: string; labels: Record<string, string>; resourceVersion?: string };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: PolicyReportResult[];
}

function toResult(f: ReportFinding, timestamp: PolicyReportResult['timestamp']): PolicyReportResult {
  const { object } = f;
  return {
    policy: 'idgate',
    rule: f.rule,
    result: f.denies ? 'fail' : 'warn',
    message: f.path === '' ? f.message : `${f.path}: ${f.message}`,
    resources: [
      {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.name,
        ...(object.namespace ? { namespace: object.namespace } : {}),
        ...(object.uid ? { uid: object.uid } : {}),
      },
    ],
    properties: {
      path: f.path,
      mode: f.mode,
      ...(f.podRule ? { podRule: f.podRule } : {}),
      ...(f.stale ? { stale: 'true' } : {}),
    },
    scored: true,
    source: 'idgate',
    timestamp,
  };
}

/** One PolicyReport per namespace that had judged objects, sorted by namespace. */
export function buildPolicyReports(report: Report, now: Date): PolicyReport[] {
  const ms = now.getTime();
  const timestamp = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
  const byNs = new Map<string, ReportFinding[]>();
  for (const f of report.findings) {
    const ns = f.object.namespace ?? '';
    (byNs.get(ns) ?? byNs.set(ns, []).get(ns)!).push(f);
  }
  return Object.entries(report.summary.byNamespace)
    .filter(([ns]) => ns !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([namespace, counts]) => {
      const results = (byNs.get(namespace) ?? []).map((f) => toResult(f, timestamp));
      const fail = results.filter((r) => r.result === 'fail').length;
      return {
        apiVersion: POLICY_REPORT_API_VERSION,
        kind: 'PolicyReport',
        metadata: { name: POLICY_REPORT_NAME, namespace, labels: { [MANAGED_BY_LABEL]: 'idgate' } },
        summary: { pass: counts.judged - counts.failing, fail, warn: results.length - fail, error: 0, skip: 0 },
        results,
      };
    });
}

/** The reports as a YAML stream (`kubectl apply -f -` takes it as is). */
export function renderPolicyReports(reports: readonly PolicyReport[]): string {
  return reports.map((r) => stringify(r, { aliasDuplicateObjects: false, lineWidth: 0 })).join('---\n');
}
