/**
 * Following files that other programs replace under a running process: the baseline
 * (docs/design.md#baseline), the serving certificate (docs/design.md#certificates)
 * and the bindings file (docs/design.md#oidcgroupbinding). One watcher for all three, in two
 * parts a caller may also use apart:
 *
 * - {@link watchPaths} notices changes. A ConfigMap or Secret volume never rewrites a file in
 *   place: the kubelet writes a new timestamped directory and atomically swaps the `..data`
 *   symlink the file name points through (kubernetes/kubernetes pkg/volume/util/atomic_writer.go),
 *   and editors rename a new file over the old one. A watch on the file itself stays attached to
 *   the old inode and misses both, so the directory is watched. fs.watch is best effort (network
 *   file systems, inotify limits), so a stat poll of each file by name (fs.watchFile, which
 *   follows symlinks) backs it up. The burst of events one replacement produces is debounced
 *   into one reload.
 * - {@link createReloader} reads, settles and applies. A file rewritten in place (`cat > file`,
 *   `kubectl get -o yaml > file`, an editor without atomic save) is empty or cut short while it
 *   is being written, so content is applied only once two reads `settleMs` apart agree
 *   ({@link readSettled}). Content that is empty, unsettled or rejected by `parse` is reported
 *   and the last good value stays in force; the same content is neither parsed nor reported twice.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, type Stats, unwatchFile, watch, watchFile } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Default settle time. A writer that truncates and then writes a few hundred kilobytes finishes
 * within milliseconds; 200 ms leaves room for a slow pipe while a change still applies well
 * inside a 2 s poll.
 */
export const DEFAULT_SETTLE_MS = 200;

/**
 * Reads before giving up on files that keep changing: 10 × the settle time (2 s by default).
 * The last good content stays in force and the next change noticed tries again.
 */
export const MAX_SETTLE_READS = 10;

/** Reads one file's text; its errors reach the caller as they are. */
export type ReadText = (file: string) => Promise<string>;

const readUtf8: ReadText = (file) => readFile(file, 'utf8');

/** Files that never held the same content for `settleMs`: a writer is still at work. */
export class UnsettledError extends Error {
  readonly code = 'ERR_FILE_UNSETTLED';
  readonly files: readonly string[];
  /** How long the files were read before giving up, milliseconds. */
  readonly waitedMs: number;

  constructor(files: readonly string[], waitedMs: number) {
    super(`${files.join(', ')} kept changing for ${waitedMs} ms; write elsewhere and rename over the file`);
    this.name = 'UnsettledError';
    this.files = files;
    this.waitedMs = waitedMs;
  }
}

/**
 * Reads `files` until two reads `settleMs` apart return the same texts and no file was written
 * in between, and returns those texts (one per file). Any one read may catch a writer mid-way;
 * only content that stays put is what the writer meant. Equal text alone is not enough: a file
 * rewritten every few milliseconds is empty at the start of every rewrite, so each file's inode,
 * size and modification and change times must not have moved either (Linux stamps them on every
 * write). Throws what `read` throws, or {@link UnsettledError} when the files never settle.
 */
export async function readSettled(
  files: readonly string[],
  settleMs = DEFAULT_SETTLE_MS,
  read: ReadText = readUtf8,
  maxReads = MAX_SETTLE_READS,
): Promise<string[]> {
  const readAll = () => Promise.all(files.map(read));
  let before = await versionOf(files);
  let previous = await readAll();
  for (let reads = 1; reads < maxReads; reads++) {
    await sleep(settleMs);
    const texts = await readAll();
    const after = await versionOf(files);
    if (after === before && texts.every((t, i) => t === previous[i])) return texts;
    [previous, before] = [texts, after];
  }
  throw new UnsettledError(files, maxReads * settleMs);
}

/** Identity, size and write times of the files, as one comparable string ('' for a file that cannot be read). */
async function versionOf(files: readonly string[]): Promise<string> {
  const versions = await Promise.all(
    files.map(async (file) => {
      try {
        const s = await stat(file, { bigint: true });
        return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      } catch {
        return '';
      }
    }),
  );
  return versions.join('|');
}

/** Why new content was not applied: the last good value stays in force. */
export type WatchFailure =
  /** `read` threw (a name that dangles mid-swap, a file removed, permissions). */
  | { readonly reason: 'unreadable'; readonly error: unknown }
  /** The files kept changing ({@link UnsettledError}). */
  | { readonly reason: 'unsettled'; readonly error: UnsettledError }
  /** Every file read as empty: a writer that has just truncated, never content anyone means to apply. */
  | { readonly reason: 'empty'; readonly error: Error }
  /** `parse` threw this. */
  | { readonly reason: 'invalid'; readonly error: unknown };

/** What {@link createReloader} reads and whom it tells. */
export interface ReloaderOptions<T> {
  readonly files: readonly string[];
  /** Turns the files' texts (one per file, in order) into the value; throws when they are invalid. */
  readonly parse: (texts: readonly string[]) => T;
  /** Called with each new valid value, in order. */
  readonly apply: (value: T, texts: readonly string[]) => void;
  /** Called once per new content that is not applied, and per failed read. */
  readonly onError: (failure: WatchFailure) => void;
  /** Default {@link DEFAULT_SETTLE_MS}. */
  readonly settleMs?: number;
  /** How to read one file; `readFile(file, 'utf8')` by default. */
  readonly read?: ReadText;
}

/** Re-reads files on demand; see {@link createReloader}. */
export interface Reloader {
  /**
   * Re-reads the files, once their content settles. Resolves true when the content in force is
   * the files' (newly applied or unchanged), false when it was not applied (see {@link WatchFailure}).
   * Reloads run one at a time, in order; calls made while one waits to start share it.
   */
  reload(): Promise<boolean>;
  /** Records content the caller applied itself (its start-up load), so an unchanged file is not applied again. */
  seed(texts: readonly string[]): void;
  /** Resolves once the reload in progress, and any queued after it, is over. */
  idle(): Promise<void>;
  /** Applies nothing more; resolves once the reload in progress, if any, is over. */
  close(): Promise<void>;
}

const hashOf = (texts: readonly string[]): string => {
  const h = createHash('sha256');
  for (const t of texts) h.update(t).update('\u0000');
  return h.digest('hex');
};

/**
 * Reads, settles, parses and applies files, keeping the last good value (see the file's
 * comment). The outcome of the last content attempted is remembered by hash, so an unchanged
 * file costs two reads and no parse, and a rejected content is reported once, not on every poll.
 */
export function createReloader<T>(options: ReloaderOptions<T>): Reloader {
  const { files, parse, apply, onError } = options;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  let last: { hash: string; ok: boolean } | undefined;
  let closed = false;
  let tail: Promise<boolean> = Promise.resolve(true);
  let queued: Promise<boolean> | undefined;

  const attempt = async (): Promise<boolean> => {
    let texts: string[];
    try {
      texts = await readSettled(files, settleMs, options.read);
    } catch (error) {
      if (!closed) onError(error instanceof UnsettledError ? { reason: 'unsettled', error } : { reason: 'unreadable', error });
      return false;
    }
    const hash = hashOf(texts);
    if (hash === last?.hash || closed) return last?.ok ?? false;
    last = { hash, ok: false };
    if (texts.every((t) => t === '')) {
      onError({ reason: 'empty', error: new Error(`${files.join(', ')}: empty`) });
      return false;
    }
    let value: T;
    try {
      value = parse(texts);
    } catch (error) {
      onError({ reason: 'invalid', error });
      return false;
    }
    last = { hash, ok: true };
    apply(value, texts);
    return true;
  };

  return {
    reload() {
      // A burst of changes becomes one reload after the running one, not one per event.
      if (queued) return queued;
      const next = tail.then(() => {
        queued = undefined;
        return attempt();
      });
      queued = next;
      tail = next;
      return next;
    },
    seed(texts) {
      last = { hash: hashOf(texts), ok: true };
    },
    async idle() {
      await tail;
    },
    async close() {
      closed = true;
      await tail;
    },
  };
}

/** How {@link watchPaths} notices changes. */
export interface WatchPathsOptions {
  /** Quiet time after the last event before `onChange` runs, milliseconds (default 100). */
  readonly debounceMs?: number;
  /** Interval of the stat poll backing up the directory watch, milliseconds (default 10 s); 0 disables it. */
  readonly pollMs?: number;
  /** Told when a directory cannot be watched (the poll still runs). */
  readonly onWatchError?: (dir: string, error: unknown) => void;
}

/**
 * Calls `onChange` (debounced) whenever one of `files` may have changed: an event in one of
 * their directories, or a change of inode, size or modification time seen by the stat poll.
 * Returns the function that stops watching.
 */
export function watchPaths(files: readonly string[], onChange: () => void, options: WatchPathsOptions = {}): () => void {
  const debounceMs = options.debounceMs ?? 100;
  const pollMs = options.pollMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((f) => dirname(f)))) {
    try {
      const watcher = watch(dir, { persistent: false }, schedule);
      watcher.on('error', (error) => options.onWatchError?.(dir, error));
      watchers.push(watcher);
    } catch (error) {
      options.onWatchError?.(dir, error);
    }
  }
  const onStat = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.ino !== prev.ino || curr.size !== prev.size) schedule();
  };
  if (pollMs > 0) for (const file of files) watchFile(file, { interval: pollMs, persistent: false }, onStat);

  return () => {
    closed = true;
    clearTimeout(timer);
    for (const w of watchers) w.close();
    if (pollMs > 0) for (const file of files) unwatchFile(file, onStat);
  };
}

/** {@link ReloaderOptions} and {@link WatchPathsOptions} together, for {@link watchFiles}. */
export interface WatchFilesOptions<T> extends ReloaderOptions<T>, WatchPathsOptions {
  /** The content the caller loaded at start-up (see {@link Reloader.seed}). */
  readonly initial: readonly string[];
}

/** A {@link Reloader} driven by {@link watchPaths}. */
export function watchFiles<T>(options: WatchFilesOptions<T>): Reloader {
  const reloader = createReloader(options);
  reloader.seed(options.initial);
  const stop = watchPaths(options.files, () => void reloader.reload(), options);
  return {
    reload: reloader.reload,
    seed: reloader.seed,
    idle: reloader.idle,
    close() {
      stop();
      return reloader.close();
    },
  };
}
