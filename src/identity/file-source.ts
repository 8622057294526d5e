/**
 * The bindings file (`--bindings-file`, docs/design.md#oidcgroupbinding): multi-document YAML of OIDCGroupBindings
 * (and `List`s of them) that replaces the cluster for local runs, `idgate check` and tests. With
 * it no cluster connection is attempted.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Segment } from '../lib/field-path.ts';
import { listItems } from '../lib/kube-list.ts';
import { parseYamlDocuments } from '../lib/yaml.ts';
import type { IdentitySource } from './source.ts';
import type { Binding } from './types.ts';
import { BindingIndex } from './index.ts';
import { compactAfterLoad } from './compact.ts';
import { createReloader, DEFAULT_SETTLE_MS, readSettled, type Reloader, UnsettledError, type WatchFailure, watchPaths } from '../lib/watch-file.ts';
import { BINDING_KIND, BindingError, ERR_BINDINGS_FILE, formatIssue, validateBinding, type BindingIssue } from './binding.ts';

/** Options of {@link parseBindingsYaml}. */
export interface ParseBindingsOptions {
  /** Objects of other kinds: an error (the default, for `--bindings-file`) or skipped (mixed manifests). */
  readonly otherKinds?: 'error' | 'skip';
}

/** Bindings found in a YAML text, and every issue (with file and 1-based line). */
export interface ParsedBindings {
  readonly bindings: Binding[];
  readonly issues: BindingIssue[];
}

/**
 * Parses multi-document YAML into Bindings. `List` objects (`kind: List` or `kind: *List` with
 * `items`, as `kubectl get -o yaml` prints them) are unwrapped. Empty documents are ignored.
 * Never throws: YAML syntax errors, invalid bindings and duplicates all come back as issues.
 */
export function parseBindingsYaml(text: string, file: string, options: ParseBindingsOptions = {}): ParsedBindings {
  const bindings: Binding[] = [];
  const issues: BindingIssue[] = [];
  const seen = new Map<string, number | undefined>();
  for (const doc of parseYamlDocuments(text)) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) issues.push({ path: [], field: '', message: `YAML syntax error: ${e.message}`, file, line: e.line });
      continue;
    }
    const value: unknown = doc.value();
    // An empty document (a stray `---`, a comment-only document) parses to null.
    if (value === null || value === undefined) continue;
    const lineAt = (path: readonly Segment[]): number | undefined => doc.lineOf(path);
    const items = listItems(value);
    const objects: { obj: unknown; base: readonly Segment[] }[] = items?.map((obj, i) => ({ obj, base: ['items', i] })) ?? [{ obj: value, base: [] }];
    for (const { obj, base } of objects) {
      if (isKindedObject(obj) && obj.kind !== BINDING_KIND) {
        if (options.otherKinds === 'skip') continue;
        issues.push({
          path: ['kind'],
          field: 'kind',
          file,
          line: lineAt([...base, 'kind']),
          message: `${JSON.stringify(obj.kind)} is not an ${BINDING_KIND}: a bindings file holds only ${BINDING_KIND} objects (or Lists of them); move it elsewhere`,
        });
        continue;
      }
      const result = validateBinding(obj);
      if (!result.ok) {
        for (const issue of result.issues) {
          issues.push({ ...issue, file, line: lineAt([...base, ...issue.path]) });
        }
        continue;
      }
      const b = result.binding;
      const key = `${b.namespace}/${b.name}`;
      const line = lineAt(base);
      if (seen.has(key)) {
        const first = seen.get(key);
        issues.push({
          path: ['metadata', 'name'],
          field: 'metadata.name',
          file,
          line: lineAt([...base, 'metadata', 'name']),
          message: `${BINDING_KIND} ${key} is defined twice${first ? ` (first at line ${first})` : ''}: remove or rename one`,
        });
        continue;
      }
      seen.set(key, line);
      // The YAML parser's strings are slices of the whole file's text, so one kept binding kept
      // all of it alive (2.3 MB for 10,000 bindings); structuredClone copies them out.
      bindings.push(structuredClone(b));
    }
  }
  return { bindings, issues };
}

/**
 * Reads and parses a bindings file. Throws a {@link BindingError} with code `ERR_BINDINGS_FILE`
 * when the file cannot be read or holds any issue; its message lists `file:line: field: message`.
 */
export async function loadBindingsFile(path: string, options: ParseBindingsOptions = {}): Promise<Binding[]> {
  return parseOrThrow(await readBindingsText(path), path, options);
}

async function readBindingsText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new BindingError(ERR_BINDINGS_FILE, [{ path: [], field: '', file: path, message: `cannot read the bindings file: ${reason}` }]);
  }
}

function parseOrThrow(text: string, path: string, options: ParseBindingsOptions): Binding[] {
  const { bindings, issues } = parseBindingsYaml(text, path, options);
  if (issues.length > 0) {
    throw new BindingError(ERR_BINDINGS_FILE, issues, `invalid bindings file ${path}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
  }
  return bindings;
}

/** Options of {@link createFileIdentitySource}. */
export interface FileIdentitySourceOptions {
  readonly path: string;
  readonly logger: Logger;
  /** The index to fill; a new one by default. */
  readonly index?: BindingIndex;
  /** Reload when the file changes (lib/watch-file.ts: directory watch and stat poll, which see editors' renames and ConfigMap symlink swaps). Default false. */
  readonly watch?: boolean;
  /** Poll interval for `watch`, milliseconds. Default 2000. */
  readonly pollMs?: number;
  /**
   * How long the file's content must stay the same before it is applied, milliseconds. Default
   * lib/watch-file.ts DEFAULT_SETTLE_MS. A file rewritten in place (`cat > file`, `kubectl
   * get -o yaml > file`, an editor without atomic save) is empty or cut short while it is being written.
   */
  readonly settleMs?: number;
  readonly now?: () => number;
}

/** A file source, plus `reload()` for SIGHUP-style reloads and tests. */
export interface FileIdentitySource extends IdentitySource {
  /** Rereads the file; keeps the last good set and returns false when the new content is invalid, empty or never settles. */
  reload(): Promise<boolean>;
}

/** The file's text once it has settled; throws ERR_BINDINGS_FILE when it is unreadable or never settles. */
async function readSettledBindings(path: string, settleMs: number): Promise<string> {
  try {
    const [text] = await readSettled([path], settleMs, readBindingsText);
    return text ?? '';
  } catch (err) {
    if (!(err instanceof UnsettledError)) throw err;
    throw new BindingError(ERR_BINDINGS_FILE, [
      { path: [], field: '', file: path, message: `the bindings file kept changing for ${err.waitedMs} ms; write it elsewhere and rename it over ${path}` },
    ]);
  }
}

/** Reloads of the bindings file: settled, parsed and validated, the last good set kept (lib/watch-file.ts). */
function bindingsReloader(path: string, settleMs: number, apply: (bindings: Binding[]) => void, onError: (failure: WatchFailure) => void): Reloader {
  return createReloader({ files: [path], settleMs, read: readBindingsText, parse: ([text]) => parseOrThrow(text ?? '', path, {}), apply, onError });
}

/** Watches the bindings file's directory, backed by a poll every `pollMs` (2 s by default). */
function watchBindings(options: FileIdentitySourceOptions, onChange: () => void): () => void {
  return watchPaths([options.path], onChange, {
    pollMs: options.pollMs ?? 2000,
    onWatchError: (dir, err) => options.logger.warn({ dir, err: (err as Error).message }, 'cannot watch the bindings directory; relying on polling'),
  });
}

/**
 * An identity source backed by a bindings file. `start()` loads the file, fills the index and
 * marks it synced; it rejects with a {@link BindingError} when the file is invalid (the CLI turns
 * that into exit code 2). With `watch`, a changed file is reloaded once its content has settled;
 * an invalid, empty or unsettled new version is logged and the last good set kept, so neither a
 * bad edit nor a read during a rewrite ever empties the index (lib/watch-file.ts).
 */
export function createFileIdentitySource(options: FileIdentitySourceOptions): FileIdentitySource {
  const { path, logger } = options;
  const index = options.index ?? new BindingIndex();
  const now = options.now ?? Date.now;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  let lastEventAt: number | undefined;
  let restarts = 0;
  let stopWatching: (() => void) | undefined;

  const apply = (bindings: Binding[]): void => {
    index.replaceAll(bindings);
    lastEventAt = now();
    logger.info({ file: path, bindings: bindings.length }, 'bindings file loaded');
  };
  const reloader = bindingsReloader(path, settleMs, apply, ({ reason, error }) => {
    restarts++;
    logger.error({ file: path, reason, err: (error as Error).message }, 'bindings file rejected; keeping the last good bindings');
  });

  return {
    index,
    async start() {
      const text = await readSettledBindings(path, settleMs);
      apply(parseOrThrow(text, path, {}));
      reloader.seed([text]);
      compactAfterLoad(index.size());
      index.markSynced();
      if (options.watch && !stopWatching) stopWatching = watchBindings(options, () => void reloader.reload());
    },
    async stop() {
      stopWatching?.();
      stopWatching = undefined;
      await reloader.idle();
    },
    reload: () => reloader.reload(),
    status() {
      return { kind: 'file', synced: index.ready(), lastEventAt, restarts, bindings: index.size() };
    },
  };
}

function isKindedObject(v: unknown): v is { kind: unknown } {
  return typeof v === 'object' && v !== null && 'kind' in v;
}
