/**
 * `idgate audit [--kubeconfig FILE] --config FILE [-n NS] [-o table|json|yaml|policyreport]
 * [--apply-reports]`: every existing Pod, workload, NetworkPolicy and OIDCGroupBinding judged by
 * the baseline's rules, nothing changed but the PolicyReports asked for (SPEC sections 0 and 4).
 * Exit 1 when anything would have been denied, 0 otherwise, 2 on configuration errors and when
 * the cluster cannot be read (neither is a verdict about the cluster's objects).
 */
import { Command } from 'commander';
import { scanCluster, type ScanProgress } from '../audit/scan.ts';
import type { Report } from '../audit/report.ts';
import { renderJson } from '../audit/reporters/json.ts';
import { buildPolicyReports, renderPolicyReports } from '../audit/reporters/policyreport.ts';
import { renderTable } from '../audit/reporters/table.ts';
import { renderYaml } from '../audit/reporters/yaml.ts';
import type { AuditClient } from '../audit/cluster.ts';
import { loadKube } from './kube.ts';
import { VERSION } from '../version.ts';
import { UsageError } from './errors.ts';
import { baselineOptions, loadBaselineFlag, setExitCode } from './check.ts';
import { option, parsePositiveInt } from './options.ts';

type Output = 'table' | 'json' | 'yaml' | 'policyreport';

interface AuditFlags {
  kubeconfig?: string;
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
    case 'json': return renderJson(report);
    case 'yaml': return renderYaml(report);
    case 'policyreport': return renderPolicyReports(buildPolicyReports(report, now));
    default: return renderTable(report);
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

/** The `idgate audit` subcommand (wired into main.ts by the lead). */
export function auditCommand(): Command {
  const cmd = new Command('audit')
    .description('judge every Pod, workload, NetworkPolicy and OIDCGroupBinding of a live cluster (dry run)')
    .addOption(option('--kubeconfig <file>', 'kubeconfig (default: in-cluster)'));
  for (const o of baselineOptions()) cmd.addOption(o);
  return cmd
    .addOption(option('-n, --namespace <ns>', 'judge only this namespace (bindings are still read from all)'))
    .addOption(option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml', 'policyreport']).default('table'))
    .addOption(option('--apply-reports', 'create or update a wgpolicyk8s.io PolicyReport named idgate in each namespace'))
    .addOption(option('--page-size <n>', 'objects per list request').argParser(parsePositiveInt).default(500).hideHelp())
    .action(async (flags: AuditFlags) => {
      const baseline = loadBaselineFlag(flags);
      const kube = await loadKube();
      const { describeApiError, NotServedError } = kube;
      let client: AuditClient;
      try {
        client = kube.createAuditClient(kube.loadKubeConfig(flags.kubeconfig));
      } catch (err) {
        if (err instanceof kube.KubeConfigError) throw new UsageError(`--kubeconfig: ${err.message}`);
        throw err;
      }
      const progress = terminalProgress();
      const now = new Date();
      let report: Report;
      try {
        const builder = await scanCluster({
          client, baseline, pageSize: flags.pageSize, version: VERSION, onProgress: progress.update,
          ...(flags.namespace ? { namespace: flags.namespace } : {}),
          onNotice: (message) => process.stderr.write(`idgate audit: ${message}\n`),
        });
        report = builder.build(now);
      } catch (err) {
        throw new UsageError(`cannot read the cluster: ${describeApiError(err)} (check --kubeconfig and RBAC: list on the audited kinds)`);
      } finally {
        progress.done();
      }
      process.stdout.write(render(report, flags.output, now));
      if (flags.applyReports) {
        try {
          process.stderr.write(await applyReports(client, report, now));
        } catch (err) {
          const hint = err instanceof NotServedError ? '' : ' (check RBAC: get, create and update on policyreports.wgpolicyk8s.io)';
          throw new UsageError(`--apply-reports: ${describeApiError(err)}${hint}`);
        }
      }
      setExitCode(report.summary.denied > 0);
    });
}
