/**
 * The controllers of docs/design.md#identity-controller inside `idgate webhook`: leader election on a Lease, and,
 * while this replica leads, the default-deny and relabel loops fed by the identity source's
 * own index (no second watch on bindings or Namespaces).
 */
import type { Logger } from 'pino';
import type { Baseline } from '../config/baseline.ts';
import { createDefaultDenyController, type DefaultDenyController } from './default-deny-controller.ts';
import { createLeaderElector, type LeaderElector } from './elector.ts';
import type { ObservedBindingIndex } from './index-events.ts';
import type { LeaderTimings } from './leader.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { DefaultDenyWatch, LeaseClient, NetworkPolicyClient, PodClient } from './ports.ts';
import { createRelabelController, type RelabelController, type RelabelControllerOptions } from './relabel-controller.ts';

/** The loops `--controllers` can name. */
export const CONTROLLER_NAMES = ['default-deny', 'relabel'] as const;
export type ControllerName = (typeof CONTROLLER_NAMES)[number];

/** What the loops talk to; src/kube builds it with client-node. */
export interface ControllerApis {
  readonly lease: LeaseClient;
  readonly pods: PodClient;
  readonly policies: NetworkPolicyClient;
  readonly defaultDenyWatch: DefaultDenyWatch;
}

export interface ControllerManagerOptions {
  readonly enabled: readonly ControllerName[];
  readonly apis: ControllerApis;
  /** The identity source's index (created as an ObservedBindingIndex so it reports changes). */
  readonly index: ObservedBindingIndex;
  readonly baseline: () => Baseline;
  readonly logger: Logger;
  readonly metrics: ControllerMetrics;
  /** This replica's holder identity. */
  readonly identity: string;
  readonly timings?: LeaderTimings;
  /** Tuning of the relabel loop (tests, benchmarks). */
  readonly relabel?: Partial<Omit<RelabelControllerOptions, 'pods' | 'identity' | 'baseline' | 'logger' | 'metrics'>>;
  /** Backoff of the default-deny loop (tests). */
  readonly defaultDenyBackoffMs?: { readonly initial: number; readonly max: number };
}

export interface ControllerManager {
  /** Starts campaigning for the Lease; the loops run while this replica leads. */
  start(): void;
  /** Steps down (loops stopped, Lease released). */
  stop(): Promise<void>;
  isLeader(): boolean;
  readonly relabel: RelabelController | undefined;
  readonly defaultDeny: DefaultDenyController | undefined;
}

interface Loops {
  readonly relabel: RelabelController | undefined;
  readonly defaultDeny: DefaultDenyController | undefined;
}

/** The enabled loops, fed by the identity source's index. */
function createLoops(options: ControllerManagerOptions, logger: Logger): Loops {
  const { index, apis, metrics } = options;
  const relabel = options.enabled.includes('relabel')
    ? createRelabelController({ ...options.relabel, pods: apis.pods, identity: index, baseline: options.baseline, logger, metrics })
    : undefined;
  const defaultDeny = options.enabled.includes('default-deny')
    ? createDefaultDenyController({
        policies: apis.policies,
        watch: apis.defaultDenyWatch,
        namespaceLabels: (ns) => index.namespaceLabels(ns),
        namespaces: () => index.namespaceNames(),
        ready: () => index.ready(),
        baseline: options.baseline,
        logger,
        ...(options.defaultDenyBackoffMs ? { backoffMs: options.defaultDenyBackoffMs } : {}),
      })
    : undefined;
  return { relabel, defaultDeny };
}

/** Queues what each change of the index concerns. */
function routeChanges(index: ObservedBindingIndex, { relabel, defaultDeny }: Loops): void {
  // Subscribed for the process's life; the loops drop what arrives while they are not running.
  index.onChange((change) => {
    if (change.kind === 'namespace') return defaultDeny?.enqueue(change.namespace);
    // Loops that started before the sync have been waiting for it (with backoff): go now.
    if (change.kind === 'synced') {
      relabel?.sweep();
      for (const ns of index.namespaceNames()) defaultDeny?.enqueue(ns);
      return;
    }
    // The first full list reports every binding; the sweep that waits for the sync covers them
    // all with one paged list, instead of one list per ServiceAccount.
    if (!index.ready()) return;
    for (const sa of change.serviceAccounts) relabel?.enqueue(change.namespace, sa);
  });
}

export function createControllerManager(options: ControllerManagerOptions): ControllerManager {
  const { apis, metrics } = options;
  const logger = options.logger.child({ component: 'controllers' });
  const loops = createLoops(options, logger);
  const { relabel, defaultDeny } = loops;
  routeChanges(options.index, loops);

  const elector: LeaderElector = createLeaderElector({
    lease: apis.lease,
    identity: options.identity,
    ...(options.timings ? { timings: options.timings } : {}),
    logger,
    onStartedLeading() {
      metrics.leader(true);
      relabel?.start();
      // Not awaited: the elector must go on renewing while the NetworkPolicy watch syncs.
      defaultDeny?.start().catch((err: unknown) => {
        // The watch retries by itself; only a stop before its first sync lands here.
        logger.debug({ err: (err as Error).message }, 'default-deny watch stopped before it synced');
      });
    },
    async onStoppedLeading() {
      await Promise.all([relabel?.stop(), defaultDeny?.stop()]);
      metrics.leader(false);
    },
  });
  metrics.leader(false);
  logger.info({ controllers: options.enabled, identity: options.identity }, 'controllers enabled; campaigning for leadership');

  return {
    start: () => elector.start(),
    stop: () => elector.stop(),
    isLeader: () => elector.isLeader(),
    relabel,
    defaultDeny,
  };
}
