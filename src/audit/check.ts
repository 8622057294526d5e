/**
 * `idgate check`: the rules on manifests, offline (docs/design.md#audit-and-check). Identity comes from the
 * bindings file and from the OIDCGroupBindings of the input itself, which are both judged and
 * indexed — a change adding a ServiceAccount and its binding checks clean in one go. Namespace
 * objects in the input tell the rules which namespaces have injection enabled.
 */
import type { Baseline } from '../config/baseline.ts';
import { BINDING_KIND, validateBinding } from '../identity/binding.ts';
import { BindingIndex } from '../identity/index.ts';
import type { Binding } from '../identity/types.ts';
import { judgeObject } from './judge.ts';
import { InputError, type InputObject, type InputProblem } from './objects.ts';
import { ReportBuilder } from './report.ts';

/** The input of {@link runCheck}. */
export interface CheckOptions {
  readonly baseline: Baseline;
  readonly objects: readonly InputObject[];
  /** Bindings from `--bindings-file`. */
  readonly bindings?: readonly Binding[];
  /** Namespace of objects without one: `-n`, else `default` (where kubectl would create them). */
  readonly defaultNamespace: string;
  readonly version: string;
}

/**
 * Judges the input. Throws an {@link InputError} (`file:line: field: message`) when an
 * OIDCGroupBinding of the input is malformed: the API server would refuse it (its CRD schema),
 * and without it the identity of every Pod it names is unknown.
 */
export function runCheck(options: CheckOptions): ReportBuilder {
  const index = new BindingIndex();
  for (const b of options.bindings ?? []) index.upsert(b);
  const problems: InputProblem[] = [];
  const objects = options.objects.map((input) => {
    const { object } = input;
    if (object.kind === 'Namespace' && object.metadata?.name) index.setNamespace(object.metadata.name, object.metadata.labels ?? {});
    if (object.kind !== BINDING_KIND || object.metadata?.namespace) return input;
    // Placed in the default namespace as kubectl would, so the binding grants what it will grant there.
    return { ...input, object: { ...object, metadata: { ...object.metadata, namespace: options.defaultNamespace } } };
  });
  for (const { object, source, lineAt } of objects) {
    if (object.kind !== BINDING_KIND) continue;
    const result = validateBinding(object);
    if (result.ok) index.upsert(result.binding);
    else
      for (const issue of result.issues)
        problems.push({ file: source.file, line: lineAt(issue.path) ?? source.line, message: `${issue.field ? `${issue.field}: ` : ''}${issue.message}` });
  }
  if (problems.length > 0) throw new InputError(problems);
  index.markSynced();
  const builder = new ReportBuilder('check');
  const judgeOptions = {
    baseline: options.baseline,
    identity: index,
    defaultNamespace: options.defaultNamespace,
    mode: 'check' as const,
    version: options.version,
  };
  for (const { object, source } of objects) builder.add(judgeObject(object, judgeOptions, source));
  return builder;
}
