/**
 * What the audit needs from a cluster: the port src/kube/audit-client.ts implements with
 * client-node. Kept here, free of client-node, so the audit logic (and every other subcommand
 * that imports it) does not load the Kubernetes client.
 */
import type { KubeObject } from '../admission/k8s.ts';

/** A kind the audit lists, e.g. `{ apiVersion: 'apps/v1', kind: 'Deployment' }`. */
export interface AuditResource {
  readonly apiVersion: string;
  readonly kind: string;
}

/** An object to create or replace (a PolicyReport). */
export interface WritableObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion?: string; readonly labels?: Record<string, string> };
}

/** What the audit needs from the cluster; tests may pass their own. */
export interface AuditClient {
  /** Pages of objects of a kind, in every namespace or one; each page at most `pageSize` objects. */
  listPages(resource: AuditResource, namespace: string | undefined, pageSize: number): AsyncGenerator<KubeObject[]>;
  /** Creates the object, or replaces the current one (get + PUT with its resourceVersion, retried on 409). */
  upsert(object: WritableObject): Promise<'created' | 'updated'>;
  /** Whether the API server serves the kind (false when its CRD is not installed). */
  serves(resource: AuditResource): Promise<boolean>;
}

/** Stable code of {@link NotServedError}. */
export const ERR_NOT_SERVED = 'ERR_NOT_SERVED';

/** The API server does not serve the kind (its CRD is not installed). */
export class NotServedError extends Error {
  readonly code = ERR_NOT_SERVED;
  constructor(resource: AuditResource) {
    super(`the cluster does not serve ${resource.kind} (${resource.apiVersion}): is its CustomResourceDefinition installed?`);
    this.name = 'NotServedError';
  }
}

/** Stable code of {@link UnjudgedError}. */
export const ERR_UNJUDGED = 'ERR_UNJUDGED';

/**
 * Objects listed as a judged kind came back unjudged: the audit would print a clean bill for a
 * cluster it did not look at (what a missing `kind` on real list items once did). A bug in
 * idgate, never a verdict about the cluster.
 */
export class UnjudgedError extends Error {
  readonly code = ERR_UNJUDGED;
  constructor(count: number, listed: number, example: string) {
    super(
      `${count} of ${listed} objects listed as kinds idgate judges were not judged (first: ${example}); ` +
        'this report would be a false clean bill, so none is printed. This is a bug in idgate: please report it with `idgate --version`',
    );
    this.name = 'UnjudgedError';
  }
}
