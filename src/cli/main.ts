#!/usr/bin/env node
/** Entry point of the `idgate` binary. */
import { main } from './program.ts';

const code = await main(process.argv);
// Long-running subcommands (webhook, proxy) keep the event loop alive and exit on a signal;
// the others end here with their exit code.
if (code !== 0) process.exit(code);
