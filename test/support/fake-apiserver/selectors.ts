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
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const [, key, op, list] = set as unknown as [string, string, string, string];
      const has =
        key in labels &&
        list
          .split(',')
          .map((v) => v.trim())
          .includes(labels[key]!);
      return op === 'in' ? has : !has;
    }
    const eq = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (eq) {
      const [, key, op, value] = eq as unknown as [string, string, string, string];
      const equal = labels[key.trim()] === value.trim();
      return op === '!=' ? !equal : equal;
    }
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}
