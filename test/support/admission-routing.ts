/**
 * Which webhooks of rendered Mutating/ValidatingWebhookConfigurations the API server would call
 * for a request, decided the way kube-apiserver decides it (k8s.io/apiserver
 * pkg/admission/plugin/webhook: rules → namespaceSelector → objectSelector → matchConditions),
 * with the matchConditions evaluated by a CEL implementation, never by string matching.
 */
import { evaluate } from '@marcbachmann/cel-js';

type Obj = Record<string, any>;

/** A label selector (metav1.LabelSelector). */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: ReadonlyArray<{ key: string; operator: string; values?: readonly string[] }>;
}

/**
 * Label selector semantics (k8s.io/apimachinery labels.Selector): every matchLabels pair and
 * every expression must hold; NotIn and DoesNotExist hold for an absent key. An absent or
 * empty selector selects everything.
 */
export function selects(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const ok =
      operator === 'In'
        ? has && values.includes(labels[key]!)
        : operator === 'NotIn'
          ? !has || !values.includes(labels[key]!)
          : operator === 'Exists'
            ? has
            : operator === 'DoesNotExist'
              ? !has
              : fail(`unknown selector operator ${operator}`);
    if (!ok) return false;
  }
  return true;
}

function fail(message: string): never {
  throw new Error(message);
}

/** One rule's resources entry against resource + subresource (`pods`, `pods/status`, `*`, `*\/*`, `pods/*`). */
function resourceMatches(entry: string, resource: string, subResource: string): boolean {
  const [res, sub] = entry.split('/') as [string, string | undefined];
  if (res !== '*' && res !== resource) return false;
  if (sub === undefined) return subResource === '';
  return sub === '*' || sub === subResource;
}

const anyOf = (list: readonly string[] | undefined, value: string): boolean => (list ?? []).includes('*') || (list ?? []).includes(value);

/** Whether any of a webhook's rules matches the request's operation, group, version and resource. */
export function rulesMatch(hook: Obj, request: Obj): boolean {
  const { group, version, resource } = request.resource as { group: string; version: string; resource: string };
  const subResource = (request.subResource as string | undefined) ?? '';
  return (hook.rules as Obj[]).some(
    (rule) =>
      anyOf(rule.operations, request.operation) &&
      anyOf(rule.apiGroups, group) &&
      anyOf(rule.apiVersions, version) &&
      (rule.resources as string[]).some((r) => resourceMatches(r, resource, subResource)) &&
      (rule.scope === undefined || rule.scope === '*' || rule.scope === (request.namespace ? 'Namespaced' : 'Cluster')),
  );
}

/** objectSelector is evaluated against the new and the old object: either one matching is a match. */
export function objectSelected(hook: Obj, request: Obj): boolean {
  if (!hook.objectSelector) return true;
  return [request.object, request.oldObject].some((o: Obj | null) => o != null && selects(hook.objectSelector, o.metadata?.labels ?? {}));
}

/** A matchCondition that failed to evaluate: on a real API server the failurePolicy applies. */
export class ConditionError extends Error {}

/**
 * Evaluates a webhook's matchConditions with `object`, `oldObject` and `request` bound as the
 * API server binds them. All must be true. An evaluation error or a non-boolean result throws
 * {@link ConditionError} naming the webhook and the condition.
 */
export function conditionsHold(hook: Obj, request: Obj): boolean {
  const vars = { object: request.object ?? null, oldObject: request.oldObject ?? null, request };
  for (const condition of (hook.matchConditions ?? []) as Array<{ name: string; expression: string }>) {
    let result: unknown;
    try {
      result = evaluate(condition.expression, vars);
    } catch (err) {
      throw new ConditionError(`${hook.name} matchCondition ${condition.name}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (typeof result !== 'boolean') throw new ConditionError(`${hook.name} matchCondition ${condition.name}: returned ${typeof result}, not a bool`);
    if (!result) return false;
  }
  return true;
}

/**
 * Every matchCondition of `hook` evaluated on its own, whatever the others give: the messages
 * of those that fail to evaluate or do not return a bool. Empty when every access is guarded.
 */
export function conditionErrors(hook: Obj, request: Obj): string[] {
  const errors: string[] = [];
  for (const condition of (hook.matchConditions ?? []) as Obj[]) {
    try {
      conditionsHold({ ...hook, matchConditions: [condition] }, request);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return errors;
}

/** The names of the webhooks, across `configs`, that the API server would call for `request`. */
export function webhooksCalled(configs: readonly Obj[], request: Obj, namespaceLabels: Readonly<Record<string, string>>): string[] {
  const called: string[] = [];
  for (const config of configs) {
    for (const hook of config.webhooks as Obj[]) {
      if (!rulesMatch(hook, request)) continue;
      if (!selects(hook.namespaceSelector, namespaceLabels)) continue;
      if (!objectSelected(hook, request)) continue;
      if (conditionsHold(hook, request)) called.push(hook.name as string);
    }
  }
  return called.sort();
}
