/**
 * The `idgate` command: one program, one subcommand per part of the product (SPEC section 0).
 * This directory is the only place that reads argv and the environment.
 */
import { Command, CommanderError } from 'commander';
import { auditCommand } from './audit.ts';
import { certsCommand } from './certs.ts';
import { checkCommand } from './check.ts';
import { labelForGroupCommand } from './label.ts';
import { webhookCommand } from './webhook.ts';
import { proxyCommand } from './proxy.ts';
import { EXIT_USAGE, UsageError } from './errors.ts';
import { VERSION } from '../version.ts';

export function buildProgram(): Command {
  const program = new Command('idgate')
    .description('identity, not IP addresses, decides what may talk to what')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(webhookCommand());
  program.addCommand(proxyCommand());
  program.addCommand(auditCommand());
  program.addCommand(checkCommand());
  program.addCommand(certsCommand());
  program.addCommand(labelForGroupCommand());
  for (const cmd of program.commands) cmd.exitOverride();
  for (const cmd of program.commands.flatMap((c) => c.commands)) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not errors; every other parse failure is a usage error (exit 2).
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`idgate: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`idgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
