/**
 * The `POST /mutate/pods` handler: a thin shell around {@link mutatePod} (vault-k8s
 * agent-inject's handler.go). The admission layer has already decoded and guarded the review;
 * this decides whether a request is a Pod CREATE, reads the baseline in force, and turns the
 * mutation into a result. Mutation does not validate: it never denies for policy reasons.
 */
import type { Logger } from 'pino';
import type { Pod } from '../admission/k8s.ts';
import { allowed, errored, patched, withWarnings } from '../admission/response.ts';
import type { AdmissionHandler, AdmissionRequest, AdmissionResult } from '../admission/types.ts';
import type { Baseline } from '../config/baseline.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { mutatePod } from './mutate.ts';
import { createPartsCache } from './parts.ts';
import { patchJson } from './patch.ts';
import { shouldInject } from './should-inject.ts';

/** Dependencies of {@link createMutateHandler}. */
export interface MutateHandlerDeps {
  /** The baseline in force, read per request so a hot reload applies to the next Pod. */
  readonly baseline: () => Baseline;
  readonly identity: IdentityResolver;
  readonly logger: Logger;
  /** The idgate version for the `idgate.dev/injected` annotation. */
  readonly version: string;
  /** Called once per Pod CREATE with what was done (metrics). */
  readonly onOutcome?: (outcome: MutationOutcome) => void;
}

/**
 * What happened to a Pod: the sidecar injected, left out (exempt, opted out, no port, already
 * there…), only computed (`mutation: dry-run`), or the Pod refused while the cache syncs.
 */
export type MutationOutcome = 'injected' | 'not-injected' | 'dry-run' | 'identity-unavailable';

/** Status code of the retryable answer while the identity cache is not synced (503 Service Unavailable). */
export const IDENTITY_UNAVAILABLE_CODE = 503;

function podName(pod: Pod, namespace: string): string {
  const meta = pod.metadata;
  const name = meta?.name || (meta?.generateName ? `${meta.generateName}*` : '(unnamed)');
  return namespace ? `${namespace}/${name}` : name;
}

function isPodRequest(request: AdmissionRequest): boolean {
  return request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '' && !request.subResource;
}

/**
 * Builds the handler:
 * - only Pod CREATE is mutated; every other request is allowed unchanged, with the reason in
 *   the log line (the webhook configuration only sends Pod CREATE, so anything else is a
 *   misconfiguration worth seeing, not worth blocking);
 * - identity cache not synced: with `identity.onUnavailable: deny` (the default) the Pod is
 *   refused with code 503 and a message saying to retry — controllers retry with backoff and
 *   the cache syncs within seconds; admitting it would create a Pod without its identity
 *   labels, which NetworkPolicies then silently treat as a stranger. With `allow` the Pod is
 *   mutated without group labels and a warning says so. Exempt namespaces and mirror pods are
 *   never refused, they need no identity;
 * - `mutation: dry-run`: the patch is computed and not returned; warnings and the log line
 *   (`mutationDryRun`, `dryRunPatch`: number of operations) say what would have been done.
 *   Dry-run never refuses, not even while the cache is unavailable.
 */
export function createMutateHandler(deps: MutateHandlerDeps): AdmissionHandler {
  const { identity, logger, version } = deps;
  const outcome = deps.onOutcome ?? (() => {});
  const parts = createPartsCache();
  return (request: AdmissionRequest): AdmissionResult => {
    if (request.operation !== 'CREATE') return allowed(`operation ${request.operation} is not mutated`);
    if (!isPodRequest(request)) {
      logger.warn({ uid: request.uid, kind: request.kind }, 'mutating webhook received something other than a Pod; check its rules');
      return allowed(`kind ${request.kind?.kind ?? 'unknown'} is not mutated`);
    }
    const pod = request.object;
    if (pod === null || pod === undefined || typeof pod !== 'object' || (pod.kind !== undefined && pod.kind !== 'Pod')) {
      logger.warn({ uid: request.uid }, 'Pod CREATE without a Pod object');
      return allowed('no Pod object in the request');
    }
    const baseline = deps.baseline();
    const namespace = request.namespace || pod.metadata?.namespace || '';
    const dryRun = baseline.mutation === 'dry-run';

    if (!identity.ready() && baseline.identity.onUnavailable === 'deny' && !dryRun && shouldInject(pod, { baseline, namespace }).identity) {
      const result = errored(
        `idgate: the identity cache (OIDCGroupBindings) is not synced yet, so the identity labels of Pod ` +
          `${podName(pod, namespace)} cannot be computed; retry in a few seconds`,
        IDENTITY_UNAVAILABLE_CODE,
      );
      if (result.status) result.status.reason = 'ServiceUnavailable';
      result.log = { injected: false, reason: 'identity cache not synced' };
      outcome('identity-unavailable');
      return result;
    }

    const mutation = mutatePod(pod, { baseline, identity, namespace, version, parts });
    if (dryRun) {
      const result = allowed();
      result.log = { injected: mutation.injected, reason: mutation.reason, mutationDryRun: true, dryRunPatch: mutation.patch.length };
      outcome('dry-run');
      const summary =
        mutation.patch.length === 0
          ? 'idgate dry-run: the Pod needs no change'
          : `idgate dry-run: ${mutation.injected ? 'would inject the idgate-proxy sidecar; ' : ''}` + `${mutation.patch.length} patch operation(s) not applied`;
      return withWarnings(result, [summary, ...mutation.warnings]);
    }
    const result = patched(mutation.patch);
    if (result.patch) result.patchJson = patchJson(result.patch, parts.json);
    result.log = { injected: mutation.injected, reason: mutation.reason, patchOps: mutation.patch.length };
    outcome(mutation.injected ? 'injected' : 'not-injected');
    return withWarnings(result, mutation.warnings);
  };
}
