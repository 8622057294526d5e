/**
 * A path to a field of an object, as Kubernetes' apimachinery `field.Path` builds it and
 * cert-manager's validation reports it: `root('spec').child('containers').index(0).child('image')`
 * renders `spec.containers[0].image`, and a map key renders in brackets,
 * `root('metadata').child('labels').key('group.idgate.dev/x')` → `metadata.labels[group.idgate.dev/x]`.
 * Violations, baseline problems and binding issues render their paths this way, and
 * lib/yaml.ts finds the line of a path by its {@link FieldPath.segments}.
 */

/** One step into a YAML/JSON value: a mapping key or a list index. */
export type Segment = string | number;

type Step = { readonly kind: 'field' | 'key'; readonly name: string } | { readonly kind: 'index'; readonly index: number };

/** A field name written after a dot; any other mapping key is written in brackets. */
const FIELD_NAME = /^[A-Za-z_][-A-Za-z0-9_]*$/;

/** An immutable field path; each method returns a new, longer path. */
export class FieldPath {
  readonly #steps: readonly Step[];

  private constructor(steps: readonly Step[]) {
    this.#steps = steps;
  }

  /** The path of the fields `names` (`root('spec', 'template')` → `spec.template`); `root()` is the object itself. */
  static root(...names: string[]): FieldPath {
    return new FieldPath(names.map((name) => ({ kind: 'field', name })));
  }

  /**
   * A path from plain segments (a JSON Pointer's, a validator's): numbers are indices, strings
   * that read as field names are fields, any other string (`my.rule`, `group.idgate.dev/x`) a key.
   */
  static of(segments: readonly Segment[]): FieldPath {
    return new FieldPath(
      segments.map(
        (s): Step => (typeof s === 'number' ? { kind: 'index', index: s } : FIELD_NAME.test(s) ? { kind: 'field', name: s } : { kind: 'key', name: s }),
      ),
    );
  }

  /** The path a JSON Pointer (RFC 6901, as ajv's `instancePath`) names: `/spec/groups/0` → `spec.groups[0]`. */
  static fromPointer(pointer: string): FieldPath {
    return FieldPath.of(pointerSegments(pointer));
  }

  /** The fields `names` under this path. */
  child(...names: string[]): FieldPath {
    return new FieldPath([...this.#steps, ...names.map((name): Step => ({ kind: 'field', name }))]);
  }

  /** The list item `index` of this path. */
  index(index: number): FieldPath {
    return new FieldPath([...this.#steps, { kind: 'index', index }]);
  }

  /** The map entry `key` of this path (labels, annotations, matchLabels), always in brackets. */
  key(key: string): FieldPath {
    return new FieldPath([...this.#steps, { kind: 'key', name: key }]);
  }

  /** `other`'s steps under this path. */
  concat(other: FieldPath): FieldPath {
    return new FieldPath([...this.#steps, ...other.#steps]);
  }

  /** The keys and indices to walk, for a YAML node lookup (lib/yaml.ts). */
  get segments(): Segment[] {
    return this.#steps.map((s) => (s.kind === 'index' ? s.index : s.name));
  }

  /** `spec.containers[0].image`, `metadata.labels[group.idgate.dev/x]`; '' for the root. */
  toString(): string {
    let out = '';
    for (const s of this.#steps) {
      if (s.kind === 'index') out += `[${s.index}]`;
      else if (s.kind === 'key') out += `[${s.name}]`;
      else out += out === '' ? s.name : `.${s.name}`;
    }
    return out;
  }
}

/** Splits a JSON Pointer (RFC 6901, as ajv's `instancePath`) into keys and indices; '' is the whole value. */
export function pointerSegments(pointer: string): Segment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
}
