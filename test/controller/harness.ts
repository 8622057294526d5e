/**
 * A cluster for controller tests and the relabel benchmark: the fake API server, real client-node
 * informers feeding an ObservedBindingIndex, and controller managers built on real client-node
 * ports (optionally wrapped to make a race happen at a chosen moment).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ObservedBindingIndex } from '../../src/controller/index-events.ts';
import {
  createControllerManager,
  type ControllerApis,
  type ControllerManager,
  type ControllerManagerOptions,
  type ControllerName,
} from '../../src/controller/manager.ts';
import type { ControllerMetrics, RelabelOutcome } from '../../src/controller/metrics.ts';
import { createControllerApis } from '../../src/kube/controller-apis.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createKubeIdentitySource, type KubeIdentitySource } from '../../src/kube/identity-source.ts';
import { identityLabels, identityAnnotations } from '../../src/mutate/identity.ts';
import type { FakeApiServer, KubeObject } from '../support/fake-apiserver.ts';
import { TEST_ISSUER, testBaseline } from '../support/baseline.ts';

/**
 * Fast leader election for tests: a leader lost is replaced within 3 s. Not shorter: on a
 * loaded 2-core machine the event loop can stall for a good part of a second, and a renew
 * deadline that short would end terms for nothing.
 */
export const FAST_TIMINGS = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 } as const;

export const namespace = (name: string, labels: Record<string, string> = { 'idgate.dev/inject': 'enabled' }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});

export const binding = (ns: string, name: string, groups: string[], serviceAccounts: string[]): KubeObject => ({
  apiVersion: 'idgate.dev/v1alpha1',
  kind: 'OIDCGroupBinding',
  metadata: { name, namespace: ns },
  spec: { issuer: TEST_ISSUER, groups, serviceAccounts },
});

/** A running Pod as the mutation left it: identity labels and annotations for `groups`. */
export function labelledPod(ns: string, name: string, serviceAccount: string, groups: string[], bindings: string[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      labels: { app: serviceAccount, ...identityLabels(serviceAccount, groups) },
      annotations: identityAnnotations({ groups, bindings }, '0.1.0'),
    },
    spec: { serviceAccountName: serviceAccount, containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase: 'Running' },
  };
}

/** Group labels a Pod carries, sorted, without the prefix. */
export const groupsOf = (pod: KubeObject | undefined): string[] =>
  Object.keys(pod?.metadata?.labels ?? {})
    .filter((k) => k.startsWith('group.idgate.dev/'))
    .map((k) => k.slice('group.idgate.dev/'.length))
    .sort();

/** An object's annotations (the fake's KubeObject types them as unknown). */
export const annotationsOf = (obj: KubeObject | undefined): Record<string, string> => (obj?.metadata?.annotations ?? {}) as Record<string, string>;

/** Counts what the controllers report. */
export class RecordingMetrics implements ControllerMetrics {
  readonly outcomes: Record<RelabelOutcome, number> = { patched: 0, unchanged: 0, gone: 0, conflict: 0, error: 0, failed: 0 };
  batches = 0;
  leading = false;
  relabel(outcome: RelabelOutcome, count = 1): void {
    this.outcomes[outcome] += count;
  }
  relabelBatch(): void {
    this.batches++;
  }
  leader(leading: boolean): void {
    this.leading = leading;
  }
}

export interface Cluster {
  readonly kubeConfig: KubeConfig;
  readonly index: ObservedBindingIndex;
  readonly source: KubeIdentitySource;
  /** A manager on this cluster's index; `wrap` may replace its ports. */
  manager(options: {
    identity: string;
    logger: Logger;
    metrics: ControllerMetrics;
    enabled?: ControllerName[];
    wrap?: (apis: ControllerApis) => ControllerApis;
    tuning?: Partial<ControllerManagerOptions>;
  }): ControllerManager;
  stop(): Promise<void>;
}

/** Starts the identity source on `api` and waits for its first sync. */
export async function startCluster(api: FakeApiServer, logger: Logger): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'idgate-controller-'));
  const kubeConfig = loadKubeConfig(await api.writeKubeconfig(dir));
  const index = new ObservedBindingIndex();
  const source = createKubeIdentitySource({ kubeConfig, logger, index, backoffMs: { initial: 50, max: 200 } });
  await source.start();
  const managers: ControllerManager[] = [];
  return {
    kubeConfig,
    index,
    source,
    manager({ identity, logger: log, metrics, enabled = ['default-deny', 'relabel'], wrap = (a) => a, tuning = {} }) {
      const apis = wrap(createControllerApis({ kubeConfig, namespace: 'idgate-system', logger: log, backoffMs: { initial: 50, max: 200 } }));
      const m = createControllerManager({
        enabled,
        apis,
        index,
        baseline: () => testBaseline(),
        logger: log,
        metrics,
        identity,
        timings: FAST_TIMINGS,
        relabel: { requeueBackoffMs: { initial: 50, max: 400 }, podRetry: { attempts: 3, initialMs: 10, maxMs: 50 } },
        defaultDenyBackoffMs: { initial: 50, max: 400 },
        ...tuning,
      });
      managers.push(m);
      return m;
    },
    async stop() {
      await Promise.all(managers.map((m) => m.stop()));
      await source.stop();
    },
  };
}
