/**
 * Connection to the Kubernetes API: a kubeconfig file (`--kubeconfig`) or, without one, the
 * in-cluster ServiceAccount (token, CA and KUBERNETES_SERVICE_HOST/PORT, read by client-node).
 * Commands a person runs (`idgate audit`) find their cluster as kubectl does instead
 * ({@link resolveKubeConfig}).
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
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
      throw new KubeConfigError(
        `the kubeconfig ${kubeconfigPath} has no current context with a cluster: set current-context (kubectl config use-context NAME)`,
      );
    }
    return kc;
  }
  if (!existsSync(`${inClusterPathPrefix}${IN_CLUSTER_TOKEN_PATH}`)) {
    throw new KubeConfigError(
      `not running inside a cluster (no ServiceAccount token at ${inClusterPathPrefix}${IN_CLUSTER_TOKEN_PATH}): pass --kubeconfig FILE, or --bindings-file FILE to run without a cluster`,
    );
  }
  kc.loadFromCluster(inClusterPathPrefix);
  const server = kc.getCurrentCluster()?.server ?? '';
  if (server.includes('undefined')) {
    throw new KubeConfigError('in-cluster configuration is incomplete: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (they are, in a Pod)');
  }
  return kc;
}

/** Where {@link resolveKubeConfig} looks; the CLI passes the process's environment and home. */
export interface KubeConfigLookup {
  /** `--kubeconfig`: this file only. */
  readonly file?: string;
  /** `--context`: this context instead of the kubeconfig's current-context. */
  readonly context?: string;
  /** `$KUBECONFIG`: a list of files separated by the platform's path delimiter. */
  readonly kubeconfigEnv?: string;
  /** The home directory holding `.kube/config`. */
  readonly home?: string;
  /** Prefix of the in-cluster files (tests). */
  readonly inClusterPathPrefix?: string;
}

/**
 * Finds the cluster as kubectl does: `--kubeconfig`, else the files of `$KUBECONFIG` merged
 * (the first file to set a cluster, user, context or current-context wins), else
 * `~/.kube/config`, else the in-cluster ServiceAccount; then `--context` picks a context.
 * client-node's loadFromDefault follows the same order but reads the environment itself,
 * throws on a name two files share (kubectl keeps the first) and ends at
 * `http://localhost:8080` when nothing is found, where this names what was tried.
 */
export function resolveKubeConfig(lookup: KubeConfigLookup): KubeConfig {
  const kc = lookup.file !== undefined ? loadFileOrThrow(lookup.file, '--kubeconfig') : loadDefault(lookup);
  if (lookup.context !== undefined) {
    if (!kc.getContextObject(lookup.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeConfigError(
        `--context ${lookup.context}: no such context${known.length > 0 ? ` (the kubeconfig has: ${known.join(', ')})` : ''}; list them with kubectl config get-contexts`,
      );
    }
    kc.setCurrentContext(lookup.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeConfigError(
      'the kubeconfig has no current context with a cluster: pass --context NAME or set current-context (kubectl config use-context NAME)',
    );
  }
  return kc;
}

function loadDefault(lookup: KubeConfigLookup): KubeConfig {
  const files = (lookup.kubeconfigEnv ?? '').split(delimiter).filter((f) => f !== '');
  if (files.length > 0) {
    // kubectl ignores files of $KUBECONFIG that do not exist, but not a list of only such files.
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0)
      throw new KubeConfigError(`$KUBECONFIG names no file that exists (${files.join(delimiter)}): fix KUBECONFIG or pass --kubeconfig FILE`);
    const kc = loadFileOrThrow(present[0]!, '$KUBECONFIG');
    for (const file of present.slice(1)) mergeFirstWins(kc, loadFileOrThrow(file, '$KUBECONFIG'));
    return kc;
  }
  const home = lookup.home ? join(lookup.home, '.kube', 'config') : undefined;
  if (home !== undefined && existsSync(home)) return loadFileOrThrow(home, '~/.kube/config');
  const token = `${lookup.inClusterPathPrefix ?? ''}${IN_CLUSTER_TOKEN_PATH}`;
  if (!existsSync(token)) {
    throw new KubeConfigError(
      `no cluster found: --kubeconfig not given, $KUBECONFIG not set, no ${home ?? '~/.kube/config'}, and not inside a cluster (no ${token}); pass --kubeconfig FILE`,
    );
  }
  return loadKubeConfig(undefined, lookup.inClusterPathPrefix);
}

function loadFileOrThrow(file: string, source: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new KubeConfigError(`cannot load the kubeconfig ${file} (from ${source}): ${reason}`);
  }
  return kc;
}

/** kubectl's merge: entries already present (by name) and a current-context already set win. */
function mergeFirstWins(into: KubeConfig, from: KubeConfig): void {
  if (!into.getCurrentContext() && from.getCurrentContext()) into.setCurrentContext(from.getCurrentContext());
  for (const c of from.getClusters()) if (!into.getCluster(c.name)) into.addCluster(c);
  for (const u of from.getUsers()) if (!into.getUser(u.name)) into.addUser(u);
  for (const c of from.getContexts()) if (!into.getContextObject(c.name)) into.addContext(c);
}
