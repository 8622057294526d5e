/**
 * Namespace, label selector and field selector matching for the fake API server's lists and
 * watches (the subset of k8s.io/apimachinery/pkg/labels and fields that clients use).
 */
import { StatusError } from './errors.ts';
import type { KubeObject } from './store.ts';

/** Filters of a list or watch: namespace (undefined = all), label and field selectors. */
export interface Filter {
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
}

/** Does the object pass the namespace, label selector and (metadata.name/namespace) field selector? */
export function matches(obj: KubeObject, filter: Filter): boolean {
  if (filter.namespace !== undefined && obj.metadata?.namespace !== filter.namespace) return false;
  if (filter.labelSelector && !matchLabels(obj.metadata?.labels ?? {}, filter.labelSelector)) return false;
  if (filter.fieldSelector) {
    for (const term of filter.fieldSelector.split(',').filter(Boolean)) {
      const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
      if (!m) throw new StatusError(400, 'BadRequest', `invalid field selector "${term}"`);
      const [, field = '', op, value] = m;
      const actual = field === 'metadata.name' ? obj.metadata?.name : field === 'metadata.namespace' ? obj.metadata?.namespace : undefined;
      if (actual === undefined && field !== 'metadata.namespace') throw new StatusError(400, 'BadRequest', `field label not supported: ${field}`);
      if ((op === '!=') === ((actual ?? '') === value)) return false;
    }
  }
  return true;
}

/** Equality, inequality, existence and set-based label selector terms (`a=b,c!=d,e,!f,g in (h,i)`). */
export function matchLabels(labels: Record<string, string>, selector: string): boolean {
  const terms = selector.match(/(?:[^,(]|\([^)]*\))+/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      const has = m[1]! in labels && values.includes(labels[m[1]!]!);
      return m[2] === 'in' ? has : !has;
    }
    if ((m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term))) {
      const equal = labels[m[1]!.trim()] === m[3]!.trim();
      return m[2] === '!=' ? !equal : equal;
    }
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}
