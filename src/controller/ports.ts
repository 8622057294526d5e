/**
 * What the controllers need from the API server, as small interfaces: src/kube implements them
 * with client-node, tests may wrap them to make a race happen exactly when they want it. The
 * controllers never import client-node.
 */
import type { NetworkPolicy, Pod } from '../admission/k8s.ts';
import type { IdentityPatch } from './relabel.ts';

/** An API call that failed; `status` is the HTTP status, undefined for a network error. */
export class ApiCallError extends Error {
  override name = 'ApiCallError';
  readonly status: number | undefined;

  constructor(message: string, status: number | undefined) {
    super(message);
    this.status = status;
  }
}

/** The HTTP status of an error from a port, if it is an {@link ApiCallError}. */
export const statusOf = (err: unknown): number | undefined => (err instanceof ApiCallError ? err.status : undefined);

/** One page of Pods. */
export interface PodPage {
  readonly items: readonly Pod[];
  readonly continue?: string | undefined;
}

/** Pods: paged lists by label selector, get, and metadata merge patches. */
export interface PodClient {
  /** One page; `namespace` undefined lists every namespace. */
  list(namespace: string | undefined, labelSelector: string, page: { limit: number; continue?: string | undefined }): Promise<PodPage>;
  /** The Pod, or undefined when it is gone. */
  get(namespace: string, name: string): Promise<Pod | undefined>;
  /** A JSON merge patch; a stale resourceVersion precondition fails with status 409. */
  patch(namespace: string, name: string, patch: IdentityPatch): Promise<void>;
}

/** NetworkPolicies: the writes of the default-deny loop. */
export interface NetworkPolicyClient {
  create(policy: NetworkPolicy): Promise<void>;
  /** A replace with the object's resourceVersion as precondition (409 when stale). */
  replace(policy: NetworkPolicy): Promise<void>;
  /** A delete with a resourceVersion precondition (409 when stale). */
  delete(namespace: string, name: string, resourceVersion: string): Promise<void>;
}

/** A watched view of every `idgate-default-deny` policy in the cluster. */
export interface DefaultDenyWatch {
  /** Starts list + watch; `onChange` gets the namespace of every policy added, changed or deleted. Resolves at the first sync. */
  start(onChange: (namespace: string) => void): Promise<void>;
  stop(): Promise<void>;
  /** The policy in `namespace`, as last seen. */
  get(namespace: string): NetworkPolicy | undefined;
  /** Namespaces holding one. */
  namespaces(): string[];
}

/** The fields of a coordination.k8s.io/v1 Lease that leader election uses. */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: Date | undefined;
  readonly renewTime: Date | undefined;
  readonly leaseTransitions: number;
}

/** A Lease as read, with the resourceVersion for the next compare-and-swap. */
export interface StoredLease {
  readonly record: LeaseRecord;
  readonly resourceVersion: string;
}

/** One Lease, by the namespace and name the client was made for. */
export interface LeaseClient {
  /** Undefined when it does not exist. */
  get(): Promise<StoredLease | undefined>;
  /** Fails with 409 when someone created it first. */
  create(record: LeaseRecord): Promise<StoredLease>;
  /** Fails with 409 when `resourceVersion` is stale. */
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
  /** `namespace/name`, for logs. */
  readonly id: string;
}
