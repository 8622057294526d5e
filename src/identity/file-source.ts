/**
 * The bindings file (`--bindings-file`, docs/design.md#oidcgroupbinding): multi-document YAML of OIDCGroupBindings
 * (and `List`s of them) that replaces the cluster for local runs, `idgate check` and tests. With
 * it no cluster connection is attempted.
 */
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Composer, isNode, LineCounter, Parser, type Document } from 'yaml';
import type { IdentitySource } from './source.ts';
import type { Binding } from './types.ts';
import { BindingIndex } from './index.ts';
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

type YamlPath = readonly (string | number)[];

/**
 * Parses multi-document YAML into Bindings. `List` objects (`kind: List` or `kind: *List` with
 * `items`, as `kubectl get -o yaml` prints them) are unwrapped. Empty documents are ignored.
 * Never throws: YAML syntax errors, invalid bindings and duplicates all come back as issues.
 */
export function parseBindingsYaml(text: string, file: string, options: ParseBindingsOptions = {}): ParsedBindings {
  const lineCounter = new LineCounter();
  // parseAllDocuments, one document at a time: holding every Document of a 10,000-binding file
  // at once peaked at 283 MB RSS; composing and dropping each in turn keeps one in memory.
  const docs = new Composer({ prettyErrors: false }).compose(new Parser(lineCounter.addNewLine).parse(text));
  const bindings: Binding[] = [];
  const issues: BindingIssue[] = [];
  const seen = new Map<string, number | undefined>();
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        issues.push({ path: [], field: '', message: `YAML syntax error: ${e.message.split('\n')[0]}`, file, line: lineCounter.linePos(e.pos[0]).line });
      }
      continue;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    // An empty document (a stray `---`, a comment-only document) parses to null.
    if (value === null || value === undefined) continue;
    const lineAt = (path: YamlPath): number | undefined => lineOf(doc, lineCounter, path);
    const objects: { obj: unknown; base: YamlPath }[] = [];
    if (isListObject(value)) {
      value.items.forEach((obj, i) => objects.push({ obj, base: ['items', i] }));
    } else {
      objects.push({ obj: value, base: [] });
    }
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
  /** Reload when the file changes (polled with fs.watchFile, which survives editors and ConfigMap symlink swaps). Default false. */
  readonly watch?: boolean;
  /** Poll interval for `watch`, milliseconds. Default 2000. */
  readonly pollMs?: number;
  /**
   * How long the file's content must stay the same before it is applied, milliseconds. Default
   * {@link DEFAULT_SETTLE_MS}. A file rewritten in place (`cat > file`, `kubectl get -o yaml >
   * file`, an editor without atomic save) is empty or cut short while it is being written.
   */
  readonly settleMs?: number;
  readonly now?: () => number;
}

/**
 * Default settle time. A writer that truncates and then writes a few hundred kilobytes finishes
 * within milliseconds; 200 ms leaves room for a slow pipe while a change still applies well
 * inside the default 2 s poll.
 */
export const DEFAULT_SETTLE_MS = 200;

/**
 * Reads before giving up on a file that keeps changing: 10 × the settle time (2 s by default).
 * The last good bindings stay in force and the next change the watcher sees tries again.
 */
const MAX_SETTLE_READS = 10;

/** A file source, plus `reload()` for SIGHUP-style reloads and tests. */
export interface FileIdentitySource extends IdentitySource {
  /** Rereads the file; keeps the last good set and returns false when the new content is invalid or never settles. */
  reload(): Promise<boolean>;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Reads `path` until two reads `settleMs` apart return the same content and the file was not
 * written in between, and returns that content. Any one read may catch a writer mid-way (empty
 * or cut short); only content that stays put is what the writer meant. Equal text alone is not
 * enough: a file rewritten every few milliseconds is empty at the start of every rewrite, so
 * the file's modification and change times must not have moved either (Linux stamps them on
 * every write). Throws ERR_BINDINGS_FILE when the file is unreadable or never settles.
 */
export async function readSettled(path: string, settleMs: number, maxReads = MAX_SETTLE_READS): Promise<string> {
  let before = await fileVersion(path);
  let previous = await readBindingsText(path);
  for (let reads = 1; reads < maxReads; reads++) {
    await sleep(settleMs);
    const text = await readBindingsText(path);
    const after = await fileVersion(path);
    if (text === previous && after === before) return text;
    [previous, before] = [text, after];
  }
  throw new BindingError(ERR_BINDINGS_FILE, [
    {
      path: [],
      field: '',
      file: path,
      message: `the bindings file kept changing for ${maxReads * settleMs} ms; write it elsewhere and rename it over ${path}`,
    },
  ]);
}

/** Identity, size and write times of a file, as one comparable string ('' when it cannot be read). */
async function fileVersion(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return '';
  }
}

/**
 * An identity source backed by a bindings file. `start()` loads the file, fills the index and
 * marks it synced; it rejects with a {@link BindingError} when the file is invalid (the CLI turns
 * that into exit code 2). With `watch`, a changed file is reloaded once its content has settled
 * ({@link readSettled}); an invalid or unsettled new version is logged and the last good set
 * kept, so neither a bad edit nor a read during a rewrite ever empties the index.
 */
export function createFileIdentitySource(options: FileIdentitySourceOptions): FileIdentitySource {
  const { path, logger } = options;
  const index = options.index ?? new BindingIndex();
  const now = options.now ?? Date.now;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  let lastHash = '';
  let lastEventAt: number | undefined;
  let restarts = 0;
  let watching = false;
  // Reloads run one at a time, in order; calls made while one waits to start share it.
  let tail: Promise<boolean> = Promise.resolve(true);
  let queued: Promise<boolean> | undefined;

  const apply = (text: string): void => {
    const bindings = parseOrThrow(text, path, {});
    index.replaceAll(bindings);
    lastHash = sha256(text);
    lastEventAt = now();
    logger.info({ file: path, bindings: bindings.length }, 'bindings file loaded');
  };

  const doReload = async (): Promise<boolean> => {
    try {
      const text = await readSettled(path, settleMs);
      if (sha256(text) === lastHash) return true;
      apply(text);
      return true;
    } catch (err) {
      restarts++;
      logger.error({ file: path, err: (err as Error).message }, 'bindings file rejected; keeping the last good bindings');
      return false;
    }
  };

  const onChange = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino && curr.size === prev.size) return;
    void source.reload();
  };

  const source: FileIdentitySource = {
    index,
    async start() {
      apply(await readSettled(path, settleMs));
      index.markSynced();
      if (options.watch && !watching) {
        watching = true;
        watchFile(path, { interval: options.pollMs ?? 2000, persistent: false }, onChange);
      }
    },
    async stop() {
      if (watching) unwatchFile(path, onChange);
      watching = false;
      await tail;
    },
    reload() {
      // A burst of changes (a file written in pieces fires the watcher several times) becomes
      // one reload after the running one, not one per event.
      if (queued) return queued;
      const next = tail.then(() => {
        queued = undefined;
        return doReload();
      });
      queued = next;
      tail = next;
      return next;
    },
    status() {
      return { kind: 'file', synced: index.ready(), lastEventAt, restarts, bindings: index.bindings().length };
    },
  };
  return source;
}

function isKindedObject(v: unknown): v is { kind: unknown } {
  return typeof v === 'object' && v !== null && 'kind' in v;
}

/** `kind: List` (kubectl) or `kind: FooList` with an `items` array. */
function isListObject(v: unknown): v is { items: unknown[] } {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items);
}

/** The 1-based line of the node at `path`, or of its nearest existing ancestor. */
function lineOf(doc: Document, lineCounter: LineCounter, path: YamlPath): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    // A missing field points at its nearest present parent (the mapping it belongs in).
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}
