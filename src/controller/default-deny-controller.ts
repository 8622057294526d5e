/**
 * The default-deny loop (docs/design.md#default-deny): one key per namespace, queued when its enrolment label
 * changes (from the identity source's Namespace events) or its `idgate-default-deny` changes
 * (from {@link DefaultDenyWatch}); each reconcile decides with {@link decideDefaultDeny} and
 * performs at most one write, with the resourceVersion it read as precondition. A write that
 * fails is retried with backoff; a namespace that is gone or terminating is dropped.
 */
import type { Logger } from 'pino';
import type { Baseline } from '../config/baseline.ts';
import { DEFAULT_DENY_NAME, type DefaultDenyAction, decideDefaultDeny } from './default-deny.ts';
import { statusOf, type DefaultDenyWatch, type NetworkPolicyClient } from './ports.ts';
import { WorkQueue, type WorkResult } from './queue.ts';

export interface DefaultDenyControllerOptions {
  readonly policies: NetworkPolicyClient;
  readonly watch: DefaultDenyWatch;
  /** Labels of a Namespace (the identity source's cache), undefined when it is gone. */
  readonly namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined;
  /** Every Namespace the cache knows. */
  readonly namespaces: () => readonly string[];
  /** Is the namespace cache synced? Nothing is decided before. */
  readonly ready: () => boolean;
  readonly baseline: () => Baseline;
  readonly logger: Logger;
  /** Backoff of a namespace whose write failed (default 200 ms doubling to 30 s). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

export interface DefaultDenyController {
  /** Queues a namespace. */
  enqueue(namespace: string): void;
  /** Starts the watch, then queues every namespace; call when leading. */
  start(): Promise<void>;
  stop(): Promise<void>;
  idle(): Promise<void>;
}

export function createDefaultDenyController(options: DefaultDenyControllerOptions): DefaultDenyController {
  return new DefaultDenier(options);
}

type Write = Exclude<DefaultDenyAction, { kind: 'none' }>;

const DONE_MESSAGE: Record<Write['kind'], string> = {
  create: 'created default-deny policy',
  restore: 'restored default-deny policy',
  delete: 'removed default-deny policy (namespace left enrolment)',
};

/** What to do after a failed write, logged. */
function afterFailedWrite(err: unknown, action: Write, log: Record<string, unknown>, logger: Logger): WorkResult {
  const status = statusOf(err);
  // Already there (409 on create), or changed since read (409 on replace/delete): the watch
  // event that explains it re-queues the namespace; retry anyway in case it was missed.
  // Gone (404 on delete) is what we wanted. A namespace deleted meanwhile answers 404 on
  // create, a terminating one 403 ("unable to create new content in namespace ... because
  // it is being terminated", NamespaceLifecycle admission): nothing to protect any more.
  if (action.kind === 'delete' && status === 404) return 'done';
  const message = (err as Error).message;
  if (status === 404 || (status === 403 && message.includes('being terminated'))) {
    logger.info({ ...log, err: message }, 'namespace gone or terminating; default-deny not needed');
    return 'done';
  }
  if (status === 403) {
    logger.error({ ...log, err: message }, "forbidden: idgate's ClusterRole must allow this on networkpolicies (manifests/base/rbac.yaml); will retry");
    return 'retry';
  }
  logger.warn({ ...log, err: message }, 'default-deny write failed; will retry');
  return 'retry';
}

class DefaultDenier implements DefaultDenyController {
  readonly #options: DefaultDenyControllerOptions;
  readonly #logger: Logger;
  #queue: WorkQueue;
  #running = false;
  #synced = false;

  constructor(options: DefaultDenyControllerOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ controller: 'default-deny' });
    this.#queue = this.#newQueue();
  }

  enqueue(namespace: string): void {
    if (this.#running) this.#queue.add(namespace);
  }

  async start(): Promise<void> {
    if (this.#running) return;
    const { watch } = this.#options;
    this.#running = true;
    this.#queue = this.#newQueue();
    this.#synced = false;
    await watch.start((ns) => {
      if (this.#running) this.#queue.add(ns);
    });
    this.#synced = true;
    for (const ns of new Set([...this.#options.namespaces(), ...watch.namespaces()])) this.#queue.add(ns);
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#synced = false;
    await this.#queue.stop();
    await this.#options.watch.stop();
  }

  idle(): Promise<void> {
    return this.#queue.idle();
  }

  #newQueue(): WorkQueue {
    return new WorkQueue((namespace) => this.#reconcile(namespace), {
      workers: 2,
      ...(this.#options.backoffMs ? { backoffMs: this.#options.backoffMs } : {}),
      onError: (key, err) => this.#logger.error({ namespace: key, err }, 'default-deny reconcile threw; will retry'),
    });
  }

  async #reconcile(namespace: string): Promise<WorkResult> {
    const options = this.#options;
    // Before both caches are synced "no policy" may only mean "not seen yet".
    if (!options.ready() || !this.#synced) return 'retry';
    const action = decideDefaultDeny({
      namespace,
      namespaceLabels: options.namespaceLabels(namespace),
      exempt: options.baseline().exemptNamespaces.includes(namespace),
      current: options.watch.get(namespace),
    });
    if (action.kind === 'none') return 'done';
    const log = { namespace, policy: DEFAULT_DENY_NAME, action: action.kind };
    try {
      if (action.kind === 'create') await options.policies.create(action.policy);
      else if (action.kind === 'restore') await options.policies.replace(action.policy);
      else await options.policies.delete(namespace, DEFAULT_DENY_NAME, action.resourceVersion);
      this.#logger.info(log, DONE_MESSAGE[action.kind]);
      // The watch brings the new object; it is judged again then (and found in place).
      return 'done';
    } catch (err) {
      return afterFailedWrite(err, action, log, this.#logger);
    }
  }
}
