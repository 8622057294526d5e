/**
 * A manifest Pod as the validating webhook would see it. On the API server the mutating webhook
 * runs first (admission order: mutating, then validating), so a bare Pod in a manifest reaches
 * validation with its identity labels and sidecar already added. `idgate check` judges that Pod,
 * computed with the mutation's own {@link mutatePod} — otherwise every hand-written Pod would be
 * reported for a sidecar the injector is about to add.
 */
import type { Pod } from '../admission/k8s.ts';
import type { PatchOperation } from '../admission/types.ts';
import type { Baseline } from '../baseline/types.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { mutatePod } from '../mutate/mutate.ts';
import { NAMESPACE_INJECT_LABEL } from '../baseline/rules/common.ts';

export interface AsAdmittedContext {
  readonly baseline: Baseline;
  readonly identity: IdentityResolver;
  readonly namespace: string;
  readonly version: string;
}

/**
 * The Pod after the mutating webhook, or the Pod unchanged when the webhook would not see it:
 * its namespace is known (a Namespace object in the input) and not labelled
 * idgate.dev/inject=enabled, or the baseline has `mutation: dry-run`. A namespace check knows
 * nothing about is assumed opted in: otherwise idgate would not apply to the Pod at all.
 */
export function asAdmitted(pod: Pod, ctx: AsAdmittedContext): Pod {
  if (ctx.baseline.mutation === 'dry-run') return pod;
  const labels = ctx.identity.namespaceLabels(ctx.namespace);
  if (labels !== undefined && labels[NAMESPACE_INJECT_LABEL] !== 'enabled') return pod;
  const { patch } = mutatePod(pod, ctx);
  if (patch.length === 0) return pod;
  const copy = structuredClone(pod);
  for (const op of patch) applyOperation(copy, op);
  return copy;
}

const unescape = (token: string): string => token.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * Applies one operation of the kinds mutatePod emits (add, replace, remove; `-` appends, an
 * index inserts) per RFC 6902 section 4. A path whose parent is missing is a bug in the patch:
 * it throws, as the API server would refuse the patch.
 */
export function applyOperation(doc: unknown, op: PatchOperation): void {
  const tokens = op.path.split('/').slice(1).map(unescape);
  const last = tokens.pop();
  if (last === undefined) throw new Error('cannot patch the whole document');
  let parent: unknown = doc;
  for (const t of tokens) {
    parent = Array.isArray(parent) ? parent[Number(t)] : (parent as Record<string, unknown> | null)?.[t];
    if (parent === undefined || parent === null || typeof parent !== 'object') throw new Error(`patch path ${op.path}: missing parent`);
  }
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (op.op === 'add') parent.splice(index, 0, op.value);
    else if (op.op === 'replace') parent[index] = op.value;
    else parent.splice(index, 1);
    return;
  }
  const record = parent as Record<string, unknown>;
  if (op.op === 'remove') delete record[last];
  else record[last] = op.value;
}
