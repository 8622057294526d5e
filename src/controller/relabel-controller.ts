/**
 * The relabel loop (docs/design.md#relabel): a binding created, changed or deleted queues the
 * ServiceAccounts it names; each is reconciled by listing its Pods with a label selector (no
 * cluster-wide Pod cache) and patching those whose identity differs. A sweep over every Pod
 * idgate labelled runs when this replica becomes leader (bindings may have changed while no
 * leader ran) and then every `sweepMs`.
 *
 * Idempotent: a Pod already right is not written. Rate-limited: every PATCH takes a token.
 * Retried: a 409 re-reads the Pod and recomputes; a 429, 5xx or network error backs off and
 * tries again; what still fails requeues the ServiceAccount with a growing delay, so no stale
 * label is left once the API server answers again.
 */
import type { Logger } from 'pino';
import { serviceAccountOf, type Pod } from '../admission/k8s.ts';
import type { Baseline } from '../config/baseline.ts';
import { LABEL_SERVICE_ACCOUNT } from '../identity/labels.ts';
import type { IdentityResolver } from '../identity/types.ts';
import type { ControllerMetrics, RelabelOutcome } from './metrics.ts';
import { statusOf, type PodClient } from './ports.ts';
import { TokenBucket, WorkQueue, type WorkResult } from './queue.ts';
import { isFinished, relabelPatch, serviceAccountSelector, summarizePatch } from './relabel.ts';

export interface RelabelControllerOptions {
  readonly pods: PodClient;
  readonly identity: IdentityResolver;
  readonly baseline: () => Baseline;
  readonly logger: Logger;
  readonly metrics: ControllerMetrics;
  /**
   * PATCHes per second and burst (default 300 and 50). docs/design.md#relabel asks for 1,000 Pods in
   * 5 s, i.e. at least 200/s; 300/s does it in about 3.3 s with room for retries. Not faster:
   * each PATCH costs the webhook process about a millisecond of CPU through client-node
   * (BENCHMARKS.md, "Relabel"), and that process also answers admission requests; the API
   * server's Priority and Fairness bounds us further.
   */
  readonly patchesPerSecond?: number;
  readonly burst?: number;
  /** PATCHes in flight at once (default 16: enough to cover the API server's latency at 300/s). */
  readonly concurrency?: number;
  /** ServiceAccounts reconciled at once (default 4). */
  readonly workers?: number;
  /** Attempts per Pod within one batch, and the backoff between them, ms (default 5, 50 doubling to 1000). */
  readonly podRetry?: { readonly attempts: number; readonly initialMs: number; readonly maxMs: number };
  /** Backoff of a ServiceAccount whose batch failed (default 200 ms doubling to 30 s). */
  readonly requeueBackoffMs?: { readonly initial: number; readonly max: number };
  /** Full sweep period, ms (default 10 minutes, the identity informers' resync; 0 disables). */
  readonly sweepMs?: number;
  /** List page size (default 500, client-go's). */
  readonly pageSize?: number;
}

export interface RelabelController {
  /** Queues a ServiceAccount of a namespace. */
  enqueue(namespace: string, serviceAccount: string): void;
  /** Queues a sweep over every labelled Pod. */
  sweep(): void;
  /** Begins working (the sweep first); call when leading. */
  start(): void;
  /** Stops; resolves when the batches in flight have finished. */
  stop(): Promise<void>;
  /** Resolves when nothing is queued or running (tests, benchmarks). */
  idle(): Promise<void>;
}

const SWEEP_KEY = '*';

/** Counts of one batch, for its log line. */
type Tally = Record<RelabelOutcome, number>;

/** What one batch did: counts, the label keys it added (+) and removed (-), its first failure. */
interface Batch {
  readonly tally: Tally;
  readonly changes: Set<string>;
  firstError?: string;
}
const newBatch = (): Batch => ({ tally: { patched: 0, unchanged: 0, gone: 0, conflict: 0, error: 0, failed: 0 }, changes: new Set() });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retryable: throttled, a server-side failure, or no answer at all. */
const transient = (status: number | undefined): boolean => status === undefined || status === 429 || status >= 500;

export function createRelabelController(options: RelabelControllerOptions): RelabelController {
  const { pods, identity, metrics } = options;
  const logger = options.logger.child({ controller: 'relabel' });
  const bucket = new TokenBucket(options.patchesPerSecond ?? 300, options.burst ?? 50);
  const concurrency = options.concurrency ?? 16;
  const retry = options.podRetry ?? { attempts: 5, initialMs: 50, maxMs: 1000 };
  const pageSize = options.pageSize ?? 500;
  const sweepMs = options.sweepMs ?? 10 * 60_000;
  let sweepTimer: NodeJS.Timeout | undefined;

  // False from stop() on: batches in flight end at their next Pod, so a replica that lost the
  // Lease stops writing within one PATCH, long before another may take over.
  let running = false;
  const count = (batch: Batch, outcome: RelabelOutcome) => {
    batch.tally[outcome]++;
    metrics.relabel(outcome);
  };

  /** Brings one Pod in line, re-reading it after a conflict; counts its outcome. */
  async function relabelPod(first: Pod, batch: Batch): Promise<void> {
    let pod: Pod | undefined = first;
    const namespace = first.metadata?.namespace ?? '';
    const name = first.metadata?.name ?? '';
    for (let attempt = 0; ; attempt++) {
      if (!running) return;
      if (!pod) return count(batch, 'gone');
      const serviceAccount = serviceAccountOf(pod.spec);
      const patch = relabelPatch(pod, identity.resolve(namespace, serviceAccount, options.baseline().trustedIssuerSet));
      if (!patch) return count(batch, 'unchanged');
      await bucket.take();
      // Leadership may have ended while waiting for the token: a former leader writes nothing more.
      if (!running) return;
      try {
        await pods.patch(namespace, name, patch);
        const { added, removed } = summarizePatch(patch);
        for (const k of added) batch.changes.add(`+${k}`);
        for (const k of removed) batch.changes.add(`-${k}`);
        return count(batch, 'patched');
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) return count(batch, 'gone');
        // Forbidden, Invalid, or denied by an admission webhook: retrying at once will not help;
        // the ServiceAccount is queued again with backoff. The batch line carries the first error.
        if (status !== 409 && !transient(status)) {
          batch.firstError ??= (err as Error).message;
          return count(batch, 'failed');
        }
        count(batch, status === 409 ? 'conflict' : 'error');
        if (attempt + 1 >= retry.attempts) {
          batch.firstError ??= (err as Error).message;
          return count(batch, 'failed');
        }
        await sleep(Math.min(retry.initialMs * 2 ** attempt, retry.maxMs));
        // Someone else wrote the Pod (409) or we cannot tell whether our write landed: re-read.
        try {
          pod = await pods.get(namespace, name);
        } catch {
          // Still failing: try the patch again with what we had; the next error is counted.
        }
      }
    }
  }

  /** Lists every page of `selector` and relabels what needs it; returns how many Pods it judged. Throws when a list fails. */
  async function relabelAll(namespace: string | undefined, selector: string, keep: (pod: Pod) => boolean, batch: Batch): Promise<number> {
    let cont: string | undefined;
    let seen = 0;
    do {
      const page = await pods.list(namespace, selector, { limit: pageSize, continue: cont });
      cont = page.continue;
      const todo = page.items.filter((p) => keep(p) && !isFinished(p));
      seen += todo.length;
      let next = 0;
      const worker = async () => {
        while (next < todo.length && running) await relabelPod(todo[next++]!, batch);
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
    } while (cont && running);
    return seen;
  }

  async function reconcile(key: string): Promise<WorkResult> {
    if (!identity.ready()) return 'retry';
    const started = performance.now();
    const baseline = options.baseline();
    const exempt = new Set(baseline.exemptNamespaces);
    const batch = newBatch();
    const { tally } = batch;
    const sweep = key === SWEEP_KEY;
    const slash = key.indexOf('/');
    const namespace = sweep ? undefined : key.slice(0, slash);
    const serviceAccount = sweep ? undefined : key.slice(slash + 1);
    const scope = sweep ? { sweep: true } : { namespace, serviceAccount };
    if (namespace !== undefined && exempt.has(namespace)) return 'done';
    let pods: number;
    try {
      pods = await relabelAll(
        namespace,
        sweep ? LABEL_SERVICE_ACCOUNT : serviceAccountSelector(serviceAccount!),
        (p) => !exempt.has(p.metadata?.namespace ?? '') && (sweep || serviceAccountOf(p.spec) === serviceAccount),
        batch,
      );
    } catch (err) {
      metrics.relabel('error');
      logger.warn({ ...scope, err: (err as Error).message, ...tally }, 'listing Pods to relabel failed; will retry');
      return 'retry';
    }
    const seconds = (performance.now() - started) / 1000;
    metrics.relabelBatch(seconds);
    const line = {
      ...scope,
      pods,
      ...tally,
      changes: [...batch.changes].sort().slice(0, 20),
      ms: Math.round(seconds * 1000),
      ...(batch.firstError ? { firstError: batch.firstError } : {}),
    };
    // Quiet when nothing changed: a sweep of a settled cluster logs at debug only.
    if (tally.failed > 0) logger.warn(line, 'relabelled Pods; some failed and the batch will be retried');
    else if (tally.patched > 0 || tally.gone > 0) logger.info(line, 'relabelled Pods');
    else logger.debug(line, 'Pods already carry their identity');
    return tally.failed > 0 ? 'retry' : 'done';
  }

  // A new queue per term of leadership: a stopped queue drops what it held, and the sweep at
  // the start of the next term finds whatever that was.
  const newQueue = () =>
    new WorkQueue(reconcile, {
      workers: options.workers ?? 4,
      ...(options.requeueBackoffMs ? { backoffMs: options.requeueBackoffMs } : {}),
      onError: (key, err) => logger.error({ key, err }, 'relabel reconcile threw; will retry'),
    });
  let queue = newQueue();

  return {
    enqueue(namespace, serviceAccount) {
      if (running) queue.add(`${namespace}/${serviceAccount}`);
    },
    sweep() {
      if (running) queue.add(SWEEP_KEY);
    },
    start() {
      if (running) return;
      running = true;
      queue = newQueue();
      queue.add(SWEEP_KEY);
      if (sweepMs > 0) {
        sweepTimer = setInterval(() => queue.add(SWEEP_KEY), sweepMs);
        sweepTimer.unref();
      }
    },
    async stop() {
      running = false;
      clearInterval(sweepTimer);
      await queue.stop();
    },
    idle: () => queue.idle(),
  };
}
