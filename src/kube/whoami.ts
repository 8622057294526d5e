/**
 * Who idgate is to the API server (docs/design.md#who-may-write-identity-labels): the username from
 * a SelfSubjectReview (authentication.k8s.io/v1, `kubectl auth whoami`). Validation admits
 * identity-label changes on a running Pod only from this user. Every authenticated user may create
 * the review (the built-in ClusterRole system:basic-user, bound to system:authenticated, grants it
 * since Kubernetes 1.28, where the API went GA), so it needs no RBAC of ours.
 */
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { apiCall } from './controller-clients.ts';

/** Returns the username the kubeconfig's credentials authenticate as; throws (naming the fix) when it cannot tell. */
export async function whoami(kubeConfig: KubeConfig): Promise<string> {
  const api = kubeConfig.makeApiClient(AuthenticationV1Api);
  const review = await apiCall('creating a SelfSubjectReview (Kubernetes >= 1.28 is needed)', () =>
    api.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} } }),
  );
  const username = review.status?.userInfo?.username;
  if (!username) throw new Error('the SelfSubjectReview came back without status.userInfo.username');
  return username;
}
