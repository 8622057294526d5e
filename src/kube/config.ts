/**
 * Connection to the Kubernetes API: a kubeconfig file (`--kubeconfig`) or, without one, the
 * in-cluster ServiceAccount (token, CA and KUBERNETES_SERVICE_HOST/PORT, read by client-node).
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export const ERR_KUBECONFIG = 'ERR_KUBECONFIG';

/** The kubeconfig cannot be used; the message names the file (or the in-cluster files) and the fix. */
export class KubeConfigError extends Error {
  readonly code = ERR_KUBECONFIG;

  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

/** Where client-node reads the in-cluster credentials (client-node config.js SERVICEACCOUNT_TOKEN_PATH). */
export const IN_CLUSTER_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads a kubeconfig file, or the in-cluster configuration when `kubeconfigPath` is undefined.
 * Throws a {@link KubeConfigError} (code `ERR_KUBECONFIG`) when neither is usable, so the CLI
 * can exit 2 naming `--kubeconfig`.
 *
 * @param inClusterPathPrefix prefix for the in-cluster files (tests); default none.
 */
export function loadKubeConfig(kubeconfigPath?: string, inClusterPathPrefix = ''): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== undefined) {
    try {
      kc.loadFromFile(kubeconfigPath);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new KubeConfigError(`cannot load the kubeconfig ${kubeconfigPath}: ${reason} (check --kubeconfig)`);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) {
      throw new KubeConfigError(`the kubeconfig ${kubeconfigPath} has no current context with a cluster: set current-context (kubectl config use-context NAME)`);
    }
    return kc;
  }
  if (!existsSync(`${inClusterPathPrefix}${IN_CLUSTER_TOKEN_PATH}`)) {
    throw new KubeConfigError(`not running inside a cluster (no ServiceAccount token at ${inClusterPathPrefix}${IN_CLUSTER_TOKEN_PATH}): pass --kubeconfig FILE, or --bindings-file FILE to run without a cluster`);
  }
  kc.loadFromCluster(inClusterPathPrefix);
  const server = kc.getCurrentCluster()?.server ?? '';
  if (server.includes('undefined')) {
    throw new KubeConfigError('in-cluster configuration is incomplete: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (they are, in a Pod)');
  }
  return kc;
}
