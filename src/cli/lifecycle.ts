/** Running a long-lived subcommand (webhook, proxy) until SIGTERM or SIGINT (docs/design.md#shutdown). */
import type { Logger } from 'pino';

export interface Stoppable {
  /** Stops accepting, finishes in-flight requests (at most graceMs), releases what it holds. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Starts `config` and, on the first SIGTERM or SIGINT, logs `stopping`, stops within the
 * configured grace and exits 0. A start-up failure rejects, for main() to map to an exit code.
 */
export async function runUntilSignal<C extends { readonly shutdownGraceMs: number }>(
  config: C,
  logger: Logger,
  start: (config: C, logger: Logger) => Promise<Stoppable>,
  stopping: string,
): Promise<void> {
  const running = await start(config, logger);
  let stopped = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopped) return;
    stopped = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, stopping);
    await running.stop(config.shutdownGraceMs);
    logger.info('stopped');
    logger.flush();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
