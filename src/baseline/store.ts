/**
 * The baseline in force, reloaded when its file changes (docs/design.md#baseline: a reload
 * that fails keeps the last good baseline in force, and the failure is logged and counted).
 *
 * A ConfigMap volume never rewrites the file in place: the kubelet writes a new timestamped
 * directory and atomically swaps the `..data` symlink the file name points through
 * (kubernetes/kubernetes pkg/volume/util/atomic_writer.go). A watch on the file itself would
 * stay attached to the old inode and miss every update, so the store watches the directory,
 * debounces the burst of events one swap produces, and re-reads the file by name. A periodic
 * re-read backs up fs.watch, which is best effort (network filesystems, inotify limits).
 */
import { watch, readFile, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { BaselineError, parseBaseline, readBaselineText } from './config.ts';
import type { Baseline } from '../config/baseline.ts';

/** What {@link createBaselineStore} watches and whom it tells about reloads. */
export interface BaselineStoreOptions {
  /** Path of the IdentityBaseline YAML file. */
  readonly file: string;
  readonly logger: Logger;
  /** Called after every reload attempt of changed content: ok, or the error that kept the old baseline. */
  readonly onReload?: (ok: boolean, error?: BaselineError) => void;
  /** Quiet time after the last directory event before re-reading (default 100 ms). */
  readonly debounceMs?: number;
  /** Fallback re-read interval (default 10 s); 0 disables it. */
  readonly pollMs?: number;
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
  const debounceMs = options.debounceMs ?? 100;
  const pollMs = options.pollMs ?? 10_000;
  // Content of the last attempt, valid or not: an unchanged file is neither re-parsed nor re-reported.
  let lastText = readBaselineText(file);
  let baseline = parseBaseline(lastText, file);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const readText = (): Promise<string> => new Promise((resolve, reject) => readFile(file, 'utf8', (err, text) => (err ? reject(err) : resolve(text))));

  async function attempt(): Promise<void> {
    let text: string;
    try {
      text = await readText();
    } catch (err) {
      // Mid-swap the name can briefly dangle; the next event or poll reads the new target.
      logger.debug({ err, file }, 'baseline file not readable yet');
      return;
    }
    if (text === lastText || closed) return;
    lastText = text;
    try {
      baseline = parseBaseline(text, file);
      logger.info({ file, mode: baseline.mode }, 'baseline reloaded');
      onReload?.(true);
    } catch (err) {
      const error = err instanceof BaselineError ? err : new BaselineError('ERR_BASELINE_INVALID', file, [{ path: '', message: String(err) }]);
      logger.error({ file, code: error.code, problems: error.problems }, `baseline reload failed, keeping the last good baseline: ${error.message}`);
      onReload?.(false, error);
    }
  }

  function reload(): Promise<void> {
    // One read at a time; a change during a read triggers one more.
    if (running) {
      again = true;
      return running;
    }
    running = attempt().finally(() => {
      running = undefined;
      if (again && !closed) {
        again = false;
        void reload();
      }
    });
    return running;
  }

  function schedule(): void {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
    timer.unref();
  }

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, schedule);
    watcher.on('error', (err) => logger.warn({ err, file }, 'baseline directory watch failed; relying on periodic re-read'));
  } catch (err) {
    logger.warn({ err, file }, 'cannot watch the baseline directory; relying on periodic re-read');
  }
  const poll = pollMs > 0 ? setInterval(() => void reload(), pollMs) : undefined;
  poll?.unref();

  return {
    current: () => baseline,
    reload,
    close() {
      closed = true;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      watcher?.close();
    },
  };
}
