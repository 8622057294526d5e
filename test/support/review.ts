/** Builders for AdmissionReview bodies in tests. */
import { randomUUID } from 'node:crypto';

export interface ReviewParts {
  uid?: string;
  operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  kind?: string;
  group?: string;
  version?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  username?: string;
}

/** An admission.k8s.io/v1 AdmissionReview with a request as the API server sends it. */
export function review(parts: ReviewParts = {}): Record<string, unknown> {
  const kind = parts.kind ?? 'Pod';
  const group = parts.group ?? '';
  const version = parts.version ?? 'v1';
  const resource = parts.resource ?? `${kind.toLowerCase()}s`;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: parts.uid ?? randomUUID(),
      kind: { group, version, kind },
      resource: { group, version, resource },
      requestKind: { group, version, kind },
      requestResource: { group, version, resource },
      namespace: parts.namespace ?? 'default',
      ...(parts.name ? { name: parts.name } : {}),
      operation: parts.operation ?? 'CREATE',
      userInfo: { username: parts.username ?? 'system:serviceaccount:kube-system:replicaset-controller' },
      object: parts.object ?? null,
      oldObject: parts.oldObject ?? null,
      dryRun: parts.dryRun ?? false,
    },
  };
}
