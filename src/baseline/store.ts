/**
 * The baseline in force, reloaded when its file changes (docs/design.md#baseline: a reload
 * that fails keeps the last good baseline in force, and the failure is logged and counted).
 * The file is followed by lib/watch-file.ts: a directory watch that sees ConfigMap `..data`
 * symlink swaps, backed by a poll, debounced, and applied only once the content has settled.
 */
import type { Logger } from 'pino';
import { BaselineError, parseBaseline, readBaselineText } from './config.ts';
import type { Baseline } from '../config/baseline.ts';
import { watchFiles, type WatchFailure } from '../lib/watch-file.ts';

/** What {@link createBaselineStore} watches and whom it tells about reloads. */
export interface BaselineStoreOptions {
  /** Path of the IdentityBaseline YAML file. */
  readonly file: string;
  readonly logger: Logger;
  /** Called after every reload attempt of changed content: ok, or the error that kept the old baseline. */
  readonly onReload?: (ok: boolean, error?: BaselineError) => void;
  /** Quiet time after the last directory event before re-reading (default 100 ms). */
  readonly debounceMs?: number;
  /** Fallback poll interval (default 10 s); 0 disables it. */
  readonly pollMs?: number;
  /** How long the content must stay the same before it is applied (default lib/watch-file.ts DEFAULT_SETTLE_MS). */
  readonly settleMs?: number;
}

/** The baseline in force for the webhook's handlers, kept current from its file. */
export interface BaselineStore {
  /** The baseline in force: the last file content that was valid. */
  current(): Baseline;
  /** Re-reads the file now (what a watch event triggers); resolves when done. */
  reload(): Promise<void>;
  /** Stops watching; current() keeps answering. */
  close(): void;
}

/**
 * Loads `file` synchronously (start-up: an invalid baseline is fatal and throws
 * {@link BaselineError}), then keeps it current.
 */
export function createBaselineStore(options: BaselineStoreOptions): BaselineStore {
  const { file, logger, onReload } = options;
  const text = readBaselineText(file);
  let baseline = parseBaseline(text, file);

  const onError = (failure: WatchFailure): void => {
    if (failure.reason === 'unreadable' || failure.reason === 'unsettled') {
      // Mid-swap the name can briefly dangle; the next event or poll reads the new target.
      logger.debug({ err: failure.error, file }, 'baseline file not readable yet');
      return;
    }
    const err = failure.error;
    const message = failure.reason === 'empty' ? 'the file is empty' : String(err);
    const error = err instanceof BaselineError ? err : new BaselineError('ERR_BASELINE_INVALID', file, [{ path: '', message }]);
    logger.error({ file, code: error.code, problems: error.problems }, `baseline reload failed, keeping the last good baseline: ${error.message}`);
    onReload?.(false, error);
  };

  const watcher = watchFiles({
    files: [file],
    initial: [text],
    parse: ([next]) => parseBaseline(next ?? '', file),
    apply: (next) => {
      baseline = next;
      logger.info({ file, mode: next.mode }, 'baseline reloaded');
      onReload?.(true);
    },
    onError,
    onWatchError: (dir, err) => logger.warn({ err, file, dir }, 'cannot watch the baseline directory; relying on the periodic poll'),
    debounceMs: options.debounceMs,
    pollMs: options.pollMs,
    settleMs: options.settleMs,
  });

  return {
    current: () => baseline,
    reload: async () => void (await watcher.reload()),
    close: () => void watcher.close(),
  };
}
