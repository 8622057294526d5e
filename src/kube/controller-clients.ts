/**
 * The controllers' writes through client-node (ports in src/controller/ports.ts): Pod list,
 * get and merge patch for the relabel loop, NetworkPolicy create/replace/delete for the
 * default-deny loop. Every failure becomes an {@link ApiCallError} carrying the HTTP status
 * (the loops decide on it) and a message naming the object.
 */
import { ApiException, CoreV1Api, NetworkingV1Api, type KubeConfig, type V1NetworkPolicy } from '@kubernetes/client-node';
import type { NetworkPolicy, Pod } from '../admission/k8s.ts';
import { ApiCallError, type NetworkPolicyClient, type PodClient } from '../controller/ports.ts';
import { describeError } from './informer.ts';
import { createLeanPatcher, type LeanAnswer } from './lean-patch.ts';
import { statusMessage } from './status.ts';

/** The field manager recorded in managedFields for idgate's writes (`kubectl get -o yaml --show-managed-fields`). */
export const FIELD_MANAGER = 'idgate';

/** A failure of a client-node call: the API server's Status message when it sent one. */
function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const message = statusMessage(err.body);
    if (message !== undefined) return `${err.code}: ${message}`;
  }
  return describeError(err);
}

/** Runs `call`, turning any failure into an {@link ApiCallError} about `what`. */
export async function apiCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new ApiCallError(`${what}: ${apiMessage(err)}`, err instanceof ApiException ? err.code : undefined);
  }
}

/** Pods for the relabel loop. */
export function createPodClient(kubeConfig: KubeConfig): PodClient {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const patcher = createLeanPatcher(kubeConfig);
  return {
    async list(namespace, labelSelector, page) {
      const params = { labelSelector, limit: page.limit, ...(page.continue ? { _continue: page.continue } : {}) };
      const list = await apiCall(`listing Pods${namespace ? ` in ${namespace}` : ''} with ${labelSelector}`, () =>
        namespace ? core.listNamespacedPod({ namespace, ...params }) : core.listPodForAllNamespaces(params),
      );
      // Items of a real list carry no kind/apiVersion; nothing here reads them.
      return { items: list.items as Pod[], continue: list.metadata?._continue || undefined };
    },
    async get(namespace, name) {
      try {
        return (await apiCall(`reading Pod ${namespace}/${name}`, () => core.readNamespacedPod({ namespace, name }))) as Pod;
      } catch (err) {
        if (err instanceof ApiCallError && err.status === 404) return undefined;
        throw err;
      }
    },
    async patch(namespace, name, patch) {
      // Through node's own https, not client-node's generated API: see lean-patch.ts.
      const what = `patching identity labels of Pod ${namespace}/${name}`;
      let answer: LeanAnswer;
      try {
        answer = await patcher.mergePatch(
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}?fieldManager=${FIELD_MANAGER}`,
          patch,
        );
      } catch (err) {
        throw new ApiCallError(`${what}: ${describeError(err)}`, undefined);
      }
      if (answer.status >= 300) throw new ApiCallError(`${what}: ${answer.status}: ${statusMessage(answer.body) ?? 'no Status message'}`, answer.status);
    },
  };
}

/** NetworkPolicies for the default-deny loop. */
export function createNetworkPolicyClient(kubeConfig: KubeConfig): NetworkPolicyClient {
  const net = kubeConfig.makeApiClient(NetworkingV1Api);
  const id = (p: NetworkPolicy) => `NetworkPolicy ${p.metadata?.namespace}/${p.metadata?.name}`;
  return {
    async create(policy) {
      const namespace = policy.metadata?.namespace ?? '';
      await apiCall(`creating ${id(policy)}`, () =>
        net.createNamespacedNetworkPolicy({ namespace, body: policy as V1NetworkPolicy, fieldManager: FIELD_MANAGER }),
      );
    },
    async replace(policy) {
      const namespace = policy.metadata?.namespace ?? '';
      const name = policy.metadata?.name ?? '';
      // metadata.resourceVersion is in the body: a compare-and-swap (409 if it changed since read).
      await apiCall(`restoring ${id(policy)}`, () =>
        net.replaceNamespacedNetworkPolicy({ namespace, name, body: policy as V1NetworkPolicy, fieldManager: FIELD_MANAGER }),
      );
    },
    async delete(namespace, name, resourceVersion) {
      await apiCall(`deleting NetworkPolicy ${namespace}/${name}`, () =>
        net.deleteNamespacedNetworkPolicy({ namespace, name, body: { preconditions: { resourceVersion } } }),
      );
    },
  };
}
