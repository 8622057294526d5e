/**
 * The Lease of leader election (coordination.k8s.io/v1) through client-node: get, create, and
 * replace with the resourceVersion as precondition.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { LeaseClient, LeaseRecord, StoredLease } from '../controller/ports.ts';
import { ApiCallError } from '../controller/ports.ts';
import { FIELD_MANAGER, apiCall } from './controller-clients.ts';

export interface LeaseClientOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** Default `idgate-controller`. */
  readonly name?: string;
}

/** The Lease's name in `--namespace`. */
export const LEASE_NAME = 'idgate-controller';

/** Lease times are MicroTime (RFC 3339 with microseconds); client-node's V1MicroTime writes that form. */
const micro = (d: Date | undefined): V1MicroTime | undefined => (d ? new V1MicroTime(d.getTime()) : undefined);
/** Read back, client-node leaves MicroTime fields as the JSON string. */
const date = (v: unknown): Date | undefined => (v === undefined || v === null ? undefined : new Date(v as string));

function toStored(lease: V1Lease): StoredLease {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: date(spec.acquireTime),
      renewTime: date(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}

export function createLeaseClient(options: LeaseClientOptions): LeaseClient {
  const api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  const { namespace } = options;
  const name = options.name ?? LEASE_NAME;
  const id = `${namespace}/${name}`;
  const body = (record: LeaseRecord, resourceVersion?: string): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: micro(record.acquireTime),
      renewTime: micro(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  });
  return {
    id,
    async get() {
      try {
        return toStored(await apiCall(`reading Lease ${id}`, () => api.readNamespacedLease({ namespace, name })));
      } catch (err) {
        if (err instanceof ApiCallError && err.status === 404) return undefined;
        throw err;
      }
    },
    async create(record) {
      return toStored(await apiCall(`creating Lease ${id}`, () => api.createNamespacedLease({ namespace, body: body(record), fieldManager: FIELD_MANAGER })));
    },
    async update(record, resourceVersion) {
      return toStored(
        await apiCall(`updating Lease ${id}`, () =>
          api.replaceNamespacedLease({ namespace, name, body: body(record, resourceVersion), fieldManager: FIELD_MANAGER }),
        ),
      );
    },
  };
}
