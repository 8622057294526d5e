/**
 * One connection pool per KubeConfig for client-node's API calls.
 *
 * client-node 2.0.1 builds a new undici Agent for every request that carries TLS options
 * (config.js applySecurityAuthentication → createDispatcher, not cached, unlike its
 * http.Agent cache): every call opens a new connection and, in a cluster, a new TLS handshake.
 * The webhook's own informers make few calls, but a relabel of 1,000 Pods makes 1,000 PATCHes,
 * and 1,000 handshakes in the process that also answers admission requests cost CPU the
 * admission p99 pays for (BENCHMARKS.md, "Relabel"). So the controllers' KubeConfig reuses one
 * dispatcher, keyed by the options client-node derives for it (createDispatcherOptions, public
 * for exactly this kind of inspection), so a changed CA or client certificate still gets its own.
 */
import type { KubeConfig } from '@kubernetes/client-node';

interface DispatcherFactory {
  createDispatcher(cluster: unknown, agentOptions: unknown): unknown;
  createDispatcherOptions(cluster: unknown, agentOptions: unknown): unknown;
}

const POOLED = Symbol('idgate.reuseConnections');

/** Makes `kubeConfig` reuse its connections; returns it. Idempotent. */
export function reuseConnections(kubeConfig: KubeConfig): KubeConfig {
  const target = kubeConfig as unknown as DispatcherFactory & { [POOLED]?: true };
  if (target[POOLED] || typeof target.createDispatcher !== 'function' || typeof target.createDispatcherOptions !== 'function') return kubeConfig;
  const create = target.createDispatcher.bind(target);
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = JSON.stringify(target.createDispatcherOptions(cluster, agentOptions));
    if (!cache.has(key)) cache.set(key, create(cluster, agentOptions));
    return cache.get(key);
  };
  target[POOLED] = true;
  return kubeConfig;
}
