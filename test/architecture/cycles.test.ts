/**
 * The module graph of `src/`: no import cycles between files or between top-level folders, and the
 * folder boundaries STYLE.md asks for ("No import cycles between folders; the admission layer
 * imports nothing from the policy layer"; "proxy/ … imports no client-node"; "kube/ the only place
 * importing @kubernetes/client-node").
 *
 * Specifiers come from `ts.preProcessFile`, the compiler's own import scanner (typescript is
 * already a dev dependency), so imports written inside comments or strings are not counted and
 * static, re-exported (`export … from`), side-effect and dynamic `import('…')` imports all are.
 * Type-only imports are counted too: they are erased at run time, so they cannot cause an
 * initialisation-order bug, but they couple two modules exactly as much as a value import does —
 * a folder that needs another folder's types depends on that folder.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { listTs, root } from './sources.ts';

/** Module id: the path from the repository root with forward slashes, e.g. `src/kube/config.ts`. */
type ModuleId = string;

/** What a module imports: relative imports resolved to module ids, bare specifiers as written. */
interface Imports {
  readonly local: readonly ModuleId[];
  readonly packages: readonly string[];
}

/** Parses every `src/` file's imports. Relative imports of non-`.ts` files (JSON) are not modules of the graph. */
function readGraph(): Map<ModuleId, Imports> {
  const graph = new Map<ModuleId, Imports>();
  for (const id of listTs('src')) {
    const text = readFileSync(join(root, id), 'utf8');
    const local: ModuleId[] = [];
    const packages: string[] = [];
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (spec.startsWith('.')) {
        if (spec.endsWith('.ts')) local.push(posix.join(posix.dirname(id), spec));
      } else {
        packages.push(spec);
      }
    }
    graph.set(id, { local, packages });
  }
  return graph;
}

/**
 * Every cycle met by a depth-first search, each as the path that closes it (`a.ts → b.ts → a.ts`).
 * One cycle per back edge: enough to name every strongly connected knot without listing all of
 * its elementary cycles.
 */
function findCycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of new Set(edges.get(node) ?? [])) {
      const seen = state.get(next);
      if (seen === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...edges.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

const show = (cycles: string[][]): string => cycles.map((c) => c.join(' → ')).join('\n');

/** The top-level folder under `src/` (`src/baseline/rules/pod.ts` → `baseline`), or the file itself for `src/version.ts`. */
const folderOf = (id: ModuleId): string => id.split('/')[1] ?? id;

const graph = readGraph();

/** Imports from `from` whose target breaks a rule, as `importer → imported` lines. */
function offending(from: (id: ModuleId) => boolean, bad: (target: ModuleId) => boolean): string[] {
  const out: string[] = [];
  for (const [id, { local }] of graph) {
    if (!from(id)) continue;
    for (const target of local) if (bad(target)) out.push(`${id} → ${target}`);
  }
  return out;
}

describe('the module graph of src/', () => {
  it('reads a graph of the whole tree, resolving every relative import to a file that exists', () => {
    const missing = offending(
      () => true,
      (target) => !graph.has(target),
    );
    assert.deepEqual(missing, [], `imports of files that are not in src/:\n${missing.join('\n')}`);
    assert.ok(graph.size > 50, `only ${graph.size} files read`);
  });

  it('has no import cycle between files', () => {
    const cycles = findCycles(new Map([...graph].map(([id, { local }]) => [id, local])));
    console.log(`# ${graph.size} files, ${[...graph.values()].reduce((n, i) => n + i.local.length, 0)} local imports, ${cycles.length} file cycles`);
    assert.deepEqual(cycles, [], `import cycles:\n${show(cycles)}`);
  });

  it('has no import cycle between the top-level folders', () => {
    const folders = new Map<string, string[]>();
    for (const [id, { local }] of graph) {
      const targets = folders.get(folderOf(id)) ?? [];
      for (const target of local) if (folderOf(target) !== folderOf(id)) targets.push(folderOf(target));
      folders.set(folderOf(id), targets);
    }
    const cycles = findCycles(folders);
    // Each folder cycle with one file import per step, so the message says which import to cut.
    const explained = cycles.map((cycle) => {
      const steps = cycle.slice(1).map(
        (to, i) =>
          offending(
            (id) => folderOf(id) === cycle[i],
            (t) => folderOf(t) === to,
          )[0],
      );
      return `${cycle.join(' → ')}\n  ${steps.join('\n  ')}`;
    });
    assert.deepEqual(cycles, [], `folder cycles:\n${explained.join('\n')}`);
  });

  it('keeps admission/ free of the policy folders: it imports only admission/ and version.ts', () => {
    const bad = offending(
      (id) => folderOf(id) === 'admission',
      (target) => folderOf(target) !== 'admission' && target !== 'src/version.ts',
    );
    assert.deepEqual(bad, [], `admission/ imports a policy folder:\n${bad.join('\n')}`);
  });

  it('keeps proxy/ self-contained: it imports only proxy/ and version.ts', () => {
    const bad = offending(
      (id) => folderOf(id) === 'proxy',
      (target) => folderOf(target) !== 'proxy' && target !== 'src/version.ts',
    );
    assert.deepEqual(bad, [], `proxy/ imports outside itself:\n${bad.join('\n')}`);
  });

  it('keeps the shared leaves config/ and text.ts free of src/ imports, so every folder may use them', () => {
    const bad = offending(
      (id) => folderOf(id) === 'config' || id === 'src/text.ts',
      () => true,
    );
    assert.deepEqual(bad, [], `a shared leaf imports from src/:\n${bad.join('\n')}`);
  });

  it('keeps the shared internals lib/ a leaf: it imports only lib/, so every folder but proxy/ may use it', () => {
    const bad = offending(
      (id) => folderOf(id) === 'lib',
      (target) => folderOf(target) !== 'lib',
    );
    assert.deepEqual(bad, [], `lib/ imports from the rest of src/:\n${bad.join('\n')}`);
  });

  it('imports @kubernetes/client-node only from kube/', () => {
    const bad = [...graph]
      .filter(
        ([id, { packages }]) => folderOf(id) !== 'kube' && packages.some((p) => p === '@kubernetes/client-node' || p.startsWith('@kubernetes/client-node/')),
      )
      .map(([id]) => id);
    assert.deepEqual(bad, [], `client-node imported outside kube/:\n${bad.join('\n')}`);
  });
});

describe('findCycles', () => {
  const cases: Array<[string, Record<string, string[]>, string[][]]> = [
    ['a tree has none', { a: ['b', 'c'], b: ['c'], c: [] }, []],
    ['a self-import', { a: ['a'] }, [['a', 'a']]],
    ['two files importing each other', { a: ['b'], b: ['a'] }, [['a', 'b', 'a']]],
    ['a longer ring', { a: ['b'], b: ['c'], c: ['a'] }, [['a', 'b', 'c', 'a']]],
    [
      'two knots',
      { a: ['b'], b: ['a', 'c'], c: ['d'], d: ['c'] },
      [
        ['a', 'b', 'a'],
        ['c', 'd', 'c'],
      ],
    ],
  ];
  for (const [name, edges, expected] of cases) {
    it(name, () => assert.deepEqual(findCycles(new Map(Object.entries(edges))), expected));
  }
});
