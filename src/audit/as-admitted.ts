/**
 * A manifest Pod as the validating webhook would see it. On the API server the mutating webhook
 * runs first (admission order: mutating, then validating), so a bare Pod in a manifest reaches
 * validation with its identity labels and sidecar already added. `idgate check` judges that Pod,
 * computed with the mutation's own {@link mutatePod} — otherwise every hand-written Pod would be
 * reported for a sidecar the injector is about to add.
 */
import jsonpatch from 'fast-json-patch';
import type { Pod } from '../admission/k8s.ts';
import type { Baseline } from '../config/baseline.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { mutatePod } from '../mutate/mutate.ts';
import { offlineScope } from '../baseline/rules/common.ts';

/** What {@link asAdmitted} needs to run the mutation as the webhook would. */
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
  if (ctx.baseline.mutation === 'dry-run' || offlineScope(ctx.identity, ctx.namespace) === 'integrity') return pod;
  const { patch } = mutatePod(pod, ctx);
  if (patch.length === 0) return pod;
  // Validated as the API server would (a path whose parent is missing throws), on a copy.
  return jsonpatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
}
