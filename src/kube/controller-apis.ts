/** Everything the controllers talk to, built with client-node from one kubeconfig. */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ControllerApis } from '../controller/manager.ts';
import { createNetworkPolicyClient, createPodClient } from './controller-clients.ts';
import { createDefaultDenyWatch } from './default-deny-watch.ts';
import { reuseConnections } from './keep-alive.ts';
import { createLeaseClient } from './lease-client.ts';

export interface ControllerApisOptions {
  readonly kubeConfig: KubeConfig;
  /** Where the Lease lives (`--namespace`). */
  readonly namespace: string;
  readonly logger: Logger;
  /** Lease name (default idgate-controller). */
  readonly leaseName?: string;
  /** Backoff of the NetworkPolicy watch after errors (tests). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

export function createControllerApis(options: ControllerApisOptions): ControllerApis {
  const kubeConfig = reuseConnections(options.kubeConfig);
  return {
    lease: createLeaseClient({ kubeConfig, namespace: options.namespace, ...(options.leaseName ? { name: options.leaseName } : {}) }),
    pods: createPodClient(kubeConfig),
    policies: createNetworkPolicyClient(kubeConfig),
    defaultDenyWatch: createDefaultDenyWatch({ kubeConfig, logger: options.logger, ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}) }),
  };
}
