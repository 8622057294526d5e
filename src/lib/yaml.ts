/**
 * Reading YAML with line numbers: the baseline, the bindings file and `idgate check`'s manifests
 * all report problems as `file:line`, so each parsed document keeps a way back from a field path
 * to its line. JSON reads the same way (YAML 1.2 is a superset of JSON).
 */
import { Composer, type Document, isMap, isNode, isScalar, LineCounter, Parser, parseDocument } from 'yaml';
import type { FieldPath, Segment } from './field-path.ts';

/** A YAML syntax error: its 1-based line and the first line of the parser's message. */
export interface YamlSyntaxError {
  readonly line: number;
  readonly message: string;
}

/** One parsed document. */
export interface YamlDocument {
  /** Syntax errors; when there are any, {@link YamlDocument.value} is not worth reading. */
  readonly errors: readonly YamlSyntaxError[];
  /** The document as plain data (`null` for an empty one). Throws when it expands too many aliases (more than 100). */
  value(): unknown;
  /**
   * The 1-based line of the node at `path`, or of its nearest present ancestor (a missing field
   * points at the mapping it belongs in). With `key`, the line of that key in the mapping at `path`.
   */
  lineOf(path: FieldPath | readonly Segment[], key?: string): number | undefined;
}

function wrap(doc: Document, lineCounter: LineCounter): YamlDocument {
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  return {
    errors: doc.errors.map((e) => ({ line: lineAt(e.pos[0]), message: e.message.split('\n')[0] ?? e.message })),
    value: () => doc.toJS({ maxAliasCount: 100 }),
    lineOf(path, key) {
      const segments = Array.isArray(path) ? (path as readonly Segment[]) : (path as FieldPath).segments;
      for (let n = segments.length; n >= 0; n--) {
        const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
        if (!isNode(node)) continue;
        if (key !== undefined && n === segments.length && isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
          if (isScalar(pair?.key) && pair.key.range) return lineAt(pair.key.range[0]);
        }
        if (node.range) return lineAt(node.range[0]);
      }
      return undefined;
    },
  };
}

/** Parses a text that holds one document (a second one is a syntax error). */
export function parseYamlDocument(text: string): YamlDocument {
  const lineCounter = new LineCounter();
  return wrap(parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true }), lineCounter);
}

/**
 * Parses a multi-document stream one document at a time: holding every Document of a
 * 10,000-binding file at once peaked at 283 MB RSS; composing and dropping each in turn keeps
 * one in memory.
 */
export function* parseYamlDocuments(text: string): Generator<YamlDocument> {
  const lineCounter = new LineCounter();
  for (const doc of new Composer({ prettyErrors: false }).compose(new Parser(lineCounter.addNewLine).parse(text))) {
    yield wrap(doc, lineCounter);
  }
}
