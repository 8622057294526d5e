/**
 * `idgate audit [--kubeconfig FILE] --config FILE [-n NS] [-o table|json|yaml|policyreport]
 * [--apply-reports]`: every existing Pod, workload, NetworkPolicy and OIDCGroupBinding judged by
 * the baseline's rules, nothing changed but the PolicyReports asked for (docs/design.md#audit-and-check).
 * Exit 1 when anything would have been denied, 0 otherwise, 2 on configuration errors, when the
 * cluster cannot be read, and when objects of judged kinds went unjudged (none of these is a
 * verdict about the cluster's objects). The cluster is found as kubectl finds it.
 */
import { homedir } from 'node:os';
import { Command } from 'commander';
import { scanCluster, type ScanProgress } from '../audit/scan.ts';
import type { Report } from '../audit/report.ts';
import type { Baseline } from '../config/baseline.ts';
import { renderJson } from '../audit/reporters/json.ts';
import { buildPolicyReports, renderPolicyReports } from '../audit/reporters/policyreport.ts';
import { renderTable } from '../audit/reporters/table.ts';
import { renderYaml } from '../audit/reporters/yaml.ts';
import type { AuditClient } from '../audit/cluster.ts';
import { loadKube, type Kube } from './kube.ts';
import { VERSION } from '../version.ts';
import { isCatalogued, UsageError } from '../errors.ts';
import { baselineOptions, loadBaselineFlag, setExitCode } from './check.ts';
import { option, parsePositiveInt } from './options.ts';

type Output = 'table' | 'json' | 'yaml' | 'policyreport';

interface AuditFlags {
  kubeconfig?: string;
  context?: string;
  config?: string;
  baseline?: string;
  namespace?: string;
  output: Output;
  applyReports?: boolean;
  pageSize: number;
}

/** A one-line progress display on stderr, redrawn in place (only on a terminal). */
function terminalProgress(): { update: (p: ScanProgress) => void; done: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, done: () => undefined };
  let shown = false;
  return {
    update(p) {
      shown = true;
      process.stderr.write(`\r\x1b[Kidgate audit: ${p.objects} object${p.objects === 1 ? '' : 's'} read (${p.kind}), ${p.findings} findings`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

function render(report: Report, output: Output, now: Date): string {
  switch (output) {
    case 'json':
      return renderJson(report);
    case 'yaml':
      return renderYaml(report);
    case 'policyreport':
      return renderPolicyReports(buildPolicyReports(report, now));
    default:
      return renderTable(report);
  }
}

async function applyReports(client: AuditClient, report: Report, now: Date): Promise<string> {
  let created = 0;
  let updated = 0;
  for (const r of buildPolicyReports(report, now)) {
    if ((await client.upsert(r)) === 'created') created++;
    else updated++;
  }
  return `idgate audit: PolicyReports written: ${created} created, ${updated} updated\n`;
}

/** The PolicyReport kind `--apply-reports` writes. */
const POLICY_REPORT = { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport' } as const;

/** `--apply-reports` on a cluster without the PolicyReport CRD: what to install, in one line. */
const POLICY_REPORT_CRD_MISSING =
  '--apply-reports: the cluster does not serve PolicyReport (wgpolicyk8s.io/v1alpha2): install the CustomResourceDefinition ' +
  'policyreports.wgpolicyk8s.io (Kyverno and Policy Reporter ship it; the upstream file is ' +
  'policy-report/crd/v1alpha2/wgpolicyk8s.io_policyreports.yaml in github.com/kubernetes-sigs/wg-policy-prototypes), ' +
  'or run without --apply-reports';

/** The cluster the flags (or $KUBECONFIG, ~/.kube/config, in-cluster) name, as kubectl finds it. */
function connect(kube: Kube, flags: AuditFlags): { client: AuditClient; server: string } {
  const kubeConfig = kube.resolveKubeConfig({
    ...(flags.kubeconfig !== undefined ? { file: flags.kubeconfig } : {}),
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    ...(process.env.KUBECONFIG !== undefined ? { kubeconfigEnv: process.env.KUBECONFIG } : {}),
    home: homedir(),
  });
  return { client: kube.createAuditClient(kubeConfig), server: kubeConfig.getCurrentCluster()?.server ?? '' };
}

/** A failure to talk to the cluster, as the operator can fix it; anything else unchanged (main() maps it). */
function readError(kube: Kube, server: string, err: unknown): unknown {
  if (isCatalogued(err) || !kube.isClusterError(err)) return err;
  return new UsageError(
    `cannot read the cluster at ${server}: ${kube.describeApiError(err)} (check --kubeconfig/--context and RBAC: list on the audited kinds)`,
  );
}

/** Judges every object of the cluster (of `flags.namespace`), with a progress line on a terminal. */
async function scan(client: AuditClient, baseline: Baseline, flags: AuditFlags, now: Date): Promise<Report> {
  const progress = terminalProgress();
  try {
    const builder = await scanCluster({
      client,
      baseline,
      pageSize: flags.pageSize,
      version: VERSION,
      onProgress: progress.update,
      ...(flags.namespace ? { namespace: flags.namespace } : {}),
      onNotice: (message) => process.stderr.write(`idgate audit: ${message}\n`),
    });
    return builder.build(now);
  } finally {
    progress.done();
  }
}

async function audit(flags: AuditFlags): Promise<void> {
  const baseline = loadBaselineFlag(flags);
  const kube = await loadKube();
  const { client, server } = connect(kube, flags);
  const fail = (err: unknown): never => {
    throw readError(kube, server, err);
  };
  // Before the scan, so a long audit does not end in "nothing written".
  if (flags.applyReports && !(await client.serves(POLICY_REPORT).catch(fail))) throw new UsageError(POLICY_REPORT_CRD_MISSING);
  const now = new Date();
  const report = await scan(client, baseline, flags, now).catch(fail);
  process.stdout.write(render(report, flags.output, now));
  if (flags.applyReports) {
    const written = await applyReports(client, report, now).catch((err: unknown) => {
      if (!kube.isClusterError(err)) throw err;
      throw new UsageError(`--apply-reports: ${kube.describeApiError(err)} (check RBAC: get, create and update on policyreports.wgpolicyk8s.io)`);
    });
    process.stderr.write(written);
  }
  setExitCode(report.summary.denied > 0);
}

/** The `idgate audit` subcommand (registered in program.ts). */
export function auditCommand(): Command {
  const cmd = new Command('audit')
    .description('judge every Pod, workload, NetworkPolicy and OIDCGroupBinding of a live cluster (dry run)')
    .addOption(option('--kubeconfig <file>', 'kubeconfig (default as kubectl: $KUBECONFIG, ~/.kube/config, in-cluster)'))
    .addOption(option('--context <name>', 'the kubeconfig context to use (default: its current-context)'));
  for (const o of baselineOptions()) cmd.addOption(o);
  return cmd
    .addOption(option('-n, --namespace <ns>', 'judge only this namespace (bindings are still read from all)'))
    .addOption(option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml', 'policyreport']).default('table'))
    .addOption(option('--apply-reports', 'create or update a wgpolicyk8s.io PolicyReport named idgate in each namespace'))
    .addOption(option('--page-size <n>', 'objects per list request').argParser(parsePositiveInt).default(500).hideHelp())
    .action(audit);
}
