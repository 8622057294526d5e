/**
 * Sizes in `src/`: no file over 300 lines and no function over 60 (STYLE.md: "Files of about
 * 100–300 lines"; "A factory over ~60 lines with many mutable variables is a class or a set of
 * small functions in disguise: cut it by concern").
 *
 * Functions are found with the compiler's own parser (typescript is already a dev dependency):
 * every function-like node with a body — declarations, expressions, arrows, methods,
 * constructors, accessors — measured from its first to its last line, comments before it not
 * counted. A nested function counts in its parent's lines too, so a long parent cannot hide in
 * short children.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { listTs, root } from './sources.ts';

const MAX_FILE_LINES = 300;
const MAX_FUNCTION_LINES = 60;

/**
 * The name a reader would search for: the declared name (a class member's with its class), the
 * variable or property it is assigned to, or the method it is passed to (`cmd.action`).
 */
function nameOf(fn: ts.FunctionLikeDeclaration, source: ts.SourceFile): string {
  const parent = fn.parent;
  const memberOf = (node: ts.Node): string => (ts.isClassLike(node.parent) ? `${node.parent.name?.getText(source) ?? '(class)'}.` : '');
  if (ts.isConstructorDeclaration(fn)) return `${memberOf(fn)}constructor`;
  if (fn.name) return memberOf(fn) + fn.name.getText(source);
  if (ts.isPropertyDeclaration(parent)) return memberOf(parent) + parent.name.getText(source);
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  if (ts.isCallExpression(parent) && ts.isPropertyAccessExpression(parent.expression)) {
    return `${enclosingName(parent, source)}.${parent.expression.name.getText(source)}`;
  }
  return '(anonymous)';
}

/** The name of the nearest named function around `node`, for callbacks like `.action(async () => …)`. */
function enclosingName(node: ts.Node, source: ts.SourceFile): string {
  for (let up = node.parent; up; up = up.parent) {
    if (ts.isFunctionLike(up) && 'body' in up && up.body) return nameOf(up as ts.FunctionLikeDeclaration, source);
  }
  return '(top level)';
}

interface Long {
  readonly where: string;
  readonly lines: number;
}

function longFunctions(id: string, text: string): Long[] {
  const source = ts.createSourceFile(id, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: Long[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = source.getLineAndCharacterOfPosition(fn.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(fn.getEnd()).line;
      const lines = last - first + 1;
      const name = nameOf(fn, source);
      if (lines > MAX_FUNCTION_LINES) out.push({ where: `${id}:${first + 1} ${name}`, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const files = listTs('src').map((id) => ({ id, text: readFileSync(join(root, id), 'utf8') }));

const lineCount = (text: string): number => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

describe('sizes in src/', () => {
  it(`has no file over ${MAX_FILE_LINES} lines`, () => {
    const over = files.filter(({ text }) => lineCount(text) > MAX_FILE_LINES).map(({ id, text }) => `${id}: ${lineCount(text)} lines`);
    assert.deepEqual(over, [], `files over ${MAX_FILE_LINES} lines:\n${over.join('\n')}`);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines`, () => {
    const over = files.flatMap(({ id, text }) => longFunctions(id, text)).map(({ where, lines }) => `${where}: ${lines} lines`);
    assert.deepEqual(over, [], `functions over ${MAX_FUNCTION_LINES} lines:\n${over.join('\n')}`);
  });
});

describe('longFunctions', () => {
  const body = (n: number): string => Array.from({ length: n - 2 }, () => '  x++;').join('\n');
  const cases: Array<[string, string, string[]]> = [
    ['a short function passes', `function f() {\n${body(60)}\n}\n`, []],
    ['a declaration of 61 lines', `function f() {\n${body(61)}\n}\n`, ['m.ts:1 f']],
    ['an arrow named by its variable', `const g = () => {\n${body(61)}\n};\n`, ['m.ts:1 g']],
    ['a method and a constructor', `class C {\n  constructor() {\n${body(61)}\n  }\n  m() {\n${body(61)}\n  }\n}\n`, ['m.ts:2 C.constructor', 'm.ts:63 C.m']],
    ['a callback named by its caller', `function cmd() {\n  p.action(() => {\n${body(61)}\n  });\n}\n`, ['m.ts:1 cmd', 'm.ts:2 cmd.action']],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () =>
      assert.deepEqual(
        longFunctions('m.ts', text).map(({ where }) => where),
        expected,
      ),
    );
  }
});
