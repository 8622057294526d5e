/**
 * A watched view of every `idgate-default-deny` NetworkPolicy, for the default-deny loop to
 * notice within seconds that one was changed or deleted. Only policies of that name are listed
 * and watched (field selector `metadata.name`), so a cluster with thousands of NetworkPolicies
 * costs this one object per enrolled namespace.
 */
import { NetworkingV1Api, type KubeConfig, type V1NetworkPolicy } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { NetworkPolicy } from '../admission/k8s.ts';
import { DEFAULT_DENY_NAME } from '../baseline/rules/default-deny.ts';
import type { DefaultDenyWatch } from '../controller/ports.ts';
import { createResilientInformer, type ResilientInformer } from './informer.ts';

export interface DefaultDenyWatchOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

const FIELD_SELECTOR = `metadata.name=${DEFAULT_DENY_NAME}`;

export function createDefaultDenyWatch(options: DefaultDenyWatchOptions): DefaultDenyWatch {
  const net = options.kubeConfig.makeApiClient(NetworkingV1Api);
  const policies = new Map<string, NetworkPolicy>();
  let informer: ResilientInformer | undefined;

  return {
    start(onChange) {
      const set = (p: V1NetworkPolicy) => {
        const ns = p.metadata?.namespace ?? '';
        policies.set(ns, p as NetworkPolicy);
        onChange(ns);
      };
      informer = createResilientInformer<V1NetworkPolicy>({
        kubeConfig: options.kubeConfig,
        logger: options.logger,
        resource: 'networkpolicies/idgate-default-deny',
        // The informer has no field-selector option; Watch builds its URL with new URL(server + path)
        // and adds its own parameters to the ones already there (client-node watch.js), so the
        // selector rides on the path.
        path: `/apis/networking.k8s.io/v1/networkpolicies?fieldSelector=${encodeURIComponent(FIELD_SELECTOR)}`,
        listPage: (page, requestOptions) => net.listNetworkPolicyForAllNamespaces({ ...page, fieldSelector: FIELD_SELECTOR }, requestOptions),
        ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
        handlers: {
          list() {
            const staged: V1NetworkPolicy[] = [];
            return {
              page(items) {
                staged.push(...items);
              },
              commit() {
                const before = new Set(policies.keys());
                policies.clear();
                for (const p of staged) set(p);
                for (const ns of before) if (!policies.has(ns)) onChange(ns);
              },
            };
          },
          upsert: set,
          remove(p) {
            const ns = p.metadata?.namespace ?? '';
            policies.delete(ns);
            onChange(ns);
          },
        },
      });
      return informer.start();
    },
    async stop() {
      await informer?.stop();
      informer = undefined;
      policies.clear();
    },
    get: (namespace) => policies.get(namespace),
    namespaces: () => [...policies.keys()],
  };
}
