/**
 * `idgate check -f FILE|DIR|- [--config FILE] [--bindings-file FILE] [-n NS] [-o table|json]`:
 * the baseline's rules on manifest files, offline (docs/design.md#audit-and-check).
 * Exit 0 when nothing would be denied, 1 when something would, 2 on unreadable input or
 * configuration (messages name the flag, or the file and line).
 *
 * `--config` is required (also spelled `--baseline`, as the design page calls it): modes,
 * trusted issuers and the sidecar all come from the IdentityBaseline, and a built-in guess
 * would pass manifests the cluster then refuses. Start from examples/baseline.yaml.
 */
import { Command, type Option } from 'commander';
import { loadBaseline } from '../baseline/config.ts';
import type { Baseline } from '../config/baseline.ts';
import { runCheck } from '../audit/check.ts';
import { readManifests } from '../audit/objects.ts';
import { renderJson } from '../audit/reporters/json.ts';
import { renderTable } from '../audit/reporters/table.ts';
import { loadBindingsFile } from '../identity/file-source.ts';
import type { Binding } from '../identity/types.ts';
import { VERSION } from '../version.ts';
import { EXIT_VIOLATIONS, UsageError } from '../errors.ts';
import { option } from './options.ts';

/** `--config` and `--baseline`: one option under two names. */
export function baselineOptions(): Option[] {
  return [option('--config <file>', 'IdentityBaseline file (required)'), option('--baseline <file>', 'the same as --config')];
}

/** Loads the baseline named by --config/--baseline; the error (exit 2) names the flag or file:line. */
export function loadBaselineFlag(flags: { config?: string; baseline?: string }): Baseline {
  if (flags.config && flags.baseline && flags.config !== flags.baseline) {
    throw new UsageError(`--config ${flags.config} and --baseline ${flags.baseline} name different files; they are the same option, give one`);
  }
  const file = flags.config ?? flags.baseline;
  if (!file) {
    throw new UsageError(
      '--config FILE (the IdentityBaseline, also --baseline or IDGATE_CONFIG) is required: ' +
        'modes, trusted issuers and the sidecar come from it; start from examples/baseline.yaml',
    );
  }
  return loadBaseline(file);
}

/** Sets exit code 1 when anything would be denied (main() returns process.exitCode). */
export function setExitCode(denies: boolean): void {
  if (denies) process.exitCode = EXIT_VIOLATIONS;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface CheckFlags {
  filename: string[];
  config?: string;
  baseline?: string;
  bindingsFile?: string;
  namespace: string;
  output: 'table' | 'json';
}

/** The `idgate check` subcommand (registered in program.ts). */
export function checkCommand(): Command {
  const cmd = new Command('check')
    .description('judge manifest files (YAML or JSON, kustomize/helm output on stdin) with the baseline, offline')
    .addOption(
      option('-f, --filename <path>', 'file, directory (walked for .yaml/.yml/.json) or - for stdin; repeatable').argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      ),
    );
  for (const o of baselineOptions()) cmd.addOption(o);
  return cmd
    .addOption(option('--bindings-file <file>', 'OIDCGroupBindings (multi-document YAML) besides those in the input'))
    .addOption(option('-n, --namespace <ns>', 'namespace of objects that name none').default('default'))
    .addOption(option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (flags: CheckFlags) => {
      // From the environment the value is one string, not a list.
      const paths = typeof flags.filename === 'string' ? [flags.filename] : (flags.filename ?? []);
      if (paths.length === 0) throw new UsageError('-f FILE|DIR|- is required: the manifests to check');
      const baseline = loadBaselineFlag(flags);
      const bindings: Binding[] = flags.bindingsFile ? await loadBindingsFile(flags.bindingsFile) : [];
      const objects = await readManifests(paths, readStdin);
      const report = runCheck({ baseline, objects, bindings, defaultNamespace: flags.namespace, version: VERSION }).build(new Date());
      process.stdout.write(flags.output === 'json' ? renderJson(report) : renderTable(report));
      setExitCode(report.summary.denied > 0);
    });
}
