/**
 * SelfSubjectReview (authentication.k8s.io/v1, `kubectl auth whoami`) for the fake API server:
 * a create-only virtual resource, as in the real one (nothing is stored; the answer describes
 * the caller). The caller is found by its bearer token in a token → username table.
 */
import type { IncomingMessage } from 'node:http';
import { StatusError } from './errors.ts';
import type { ResourceInfo } from './resources.ts';

export const SELF_SUBJECT_REVIEWS: ResourceInfo = {
  group: 'authentication.k8s.io',
  version: 'v1',
  resource: 'selfsubjectreviews',
  kind: 'SelfSubjectReview',
  namespaced: false,
};

/** The token writeKubeconfig() puts in its kubeconfig. */
export const FAKE_TOKEN = 'fake-token';

/** Who the kubeconfig of writeKubeconfig() is, by default: idgate's own ServiceAccount in the manifests. */
export const DEFAULT_USERS: Readonly<Record<string, string>> = { [FAKE_TOKEN]: 'system:serviceaccount:idgate-system:idgate' };

/** The review for the request's bearer token: 201 with status.userInfo, 401 for an unknown token, 405 for anything but POST. */
export function selfSubjectReview(req: IncomingMessage, users: Readonly<Record<string, string>>): { status: number; body: unknown } {
  if (req.method !== 'POST') throw new StatusError(405, 'MethodNotAllowed', 'selfsubjectreviews only supports create');
  const token = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
  const username = token === undefined ? undefined : users[token];
  if (username === undefined) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
  const sa = /^system:serviceaccount:([^:]+):/.exec(username);
  const groups = sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`, 'system:authenticated'] : ['system:authenticated'];
  // As ../shared/k8s-recorded/api/selfsubjectreview.json: a creation time, and the credential
  // in `extra` (the apiserver names X.509 certificates and ServiceAccount tokens there).
  return {
    status: 201,
    body: {
      kind: 'SelfSubjectReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
      status: { userInfo: { username, groups, extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${token}`] } } },
    },
  };
}
