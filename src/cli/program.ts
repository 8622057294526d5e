/**
 * The `idgate` command: one program, one subcommand per part of the product (docs/design.md#command-line).
 * This directory is the only place that reads argv and the environment.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE, exitFor } from '../errors.ts';
import { VERSION } from '../version.ts';

/**
 * Subcommands, each loaded only when it runs: the sidecar (`idgate proxy`, in every Pod) must not
 * load the webhook's express, ajv, yaml and node-forge, nor the audit's Kubernetes client.
 * Measured on the built program (max RSS, wall time of `idgate proxy --help`): 175 MB and
 * 0.54 s when every subcommand and client-node were imported up front, 76 MB and 0.09 s now.
 */
const SUBCOMMANDS: Record<string, () => Promise<Command>> = {
  webhook: async () => (await import('./webhook.ts')).webhookCommand(),
  proxy: async () => (await import('./proxy.ts')).proxyCommand(),
  audit: async () => (await import('./audit.ts')).auditCommand(),
  check: async () => (await import('./check.ts')).checkCommand(),
  certs: async () => (await import('./certs.ts')).certsCommand(),
  'label-for-group': async () => (await import('./label.ts')).labelForGroupCommand(),
};

/** The program; with `only`, just that subcommand is loaded (all of them for help or an unknown name). */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('idgate')
    .description('identity, not IP addresses, decides what may talk to what')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  const names = only !== undefined && Object.hasOwn(SUBCOMMANDS, only) ? [only] : Object.keys(SUBCOMMANDS);
  for (const command of await Promise.all(names.map((name) => SUBCOMMANDS[name]!()))) program.addCommand(command);
  for (const cmd of program.commands) cmd.exitOverride();
  for (const cmd of program.commands.flatMap((c) => c.commands)) cmd.exitOverride();
  return program;
}

/**
 * Runs the program and returns its exit code, the one place errors become exit codes
 * (docs/design.md#command-line): 1 only when a subcommand found violations (process.exitCode),
 * and for an error, the code src/errors.ts catalogues for it.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv[2])).parseAsync(argv);
    return process.exitCode === undefined ? EXIT_OK : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not errors; every other parse failure is a usage error (exit 2),
      // which commander has already printed, naming the flag.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const { exit, message } = exitFor(err);
    process.stderr.write(`idgate: ${message}\n`);
    return exit;
  }
}
