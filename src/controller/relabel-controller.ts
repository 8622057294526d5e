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
  return new Relabeler(options);
}

/** The work-queue key of a ServiceAccount, split back; undefined for the sweep. */
function scopeOf(key: string): { namespace: string; serviceAccount: string } | undefined {
  if (key === SWEEP_KEY) return undefined;
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), serviceAccount: key.slice(slash + 1) };
}

class Relabeler implements RelabelController {
  readonly #options: RelabelControllerOptions;
  readonly #pods: PodClient;
  readonly #identity: IdentityResolver;
  readonly #metrics: ControllerMetrics;
  readonly #logger: Logger;
  readonly #bucket: TokenBucket;
  readonly #concurrency: number;
  readonly #retry: { readonly attempts: number; readonly initialMs: number; readonly maxMs: number };
  readonly #sweepMs: number;
  #sweepTimer: NodeJS.Timeout | undefined;
  // False from stop() on: batches in flight end at their next Pod, so a replica that lost the
  // Lease stops writing within one PATCH, long before another may take over.
  #running = false;
  #queue: WorkQueue;

  constructor(options: RelabelControllerOptions) {
    this.#options = options;
    this.#pods = options.pods;
    this.#identity = options.identity;
    this.#metrics = options.metrics;
    this.#logger = options.logger.child({ controller: 'relabel' });
    this.#bucket = new TokenBucket(options.patchesPerSecond ?? 300, options.burst ?? 50);
    this.#concurrency = options.concurrency ?? 16;
    this.#retry = options.podRetry ?? { attempts: 5, initialMs: 50, maxMs: 1000 };
    this.#sweepMs = options.sweepMs ?? 10 * 60_000;
    this.#queue = this.#newQueue();
  }

  enqueue(namespace: string, serviceAccount: string): void {
    if (this.#running) this.#queue.add(`${namespace}/${serviceAccount}`);
  }

  sweep(): void {
    if (this.#running) this.#queue.add(SWEEP_KEY);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#queue = this.#newQueue();
    this.#queue.add(SWEEP_KEY);
    if (this.#sweepMs > 0) {
      this.#sweepTimer = setInterval(() => this.#queue.add(SWEEP_KEY), this.#sweepMs);
      this.#sweepTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#sweepTimer);
    await this.#queue.stop();
  }

  idle(): Promise<void> {
    return this.#queue.idle();
  }

  // A new queue per term of leadership: a stopped queue drops what it held, and the sweep at
  // the start of the next term finds whatever that was.
  #newQueue(): WorkQueue {
    return new WorkQueue((key) => this.#reconcile(key), {
      workers: this.#options.workers ?? 4,
      ...(this.#options.requeueBackoffMs ? { backoffMs: this.#options.requeueBackoffMs } : {}),
      onError: (key, err) => this.#logger.error({ key, err }, 'relabel reconcile threw; will retry'),
    });
  }

  #count(batch: Batch, outcome: RelabelOutcome): void {
    batch.tally[outcome]++;
    this.#metrics.relabel(outcome);
  }

  async #reconcile(key: string): Promise<WorkResult> {
    if (!this.#identity.ready()) return 'retry';
    const started = performance.now();
    const exempt = new Set(this.#options.baseline().exemptNamespaces);
    const batch = newBatch();
    const target = scopeOf(key);
    const scope = target ?? { sweep: true };
    if (target && exempt.has(target.namespace)) return 'done';
    let pods: number;
    try {
      pods = await this.#relabelAll(
        target?.namespace,
        target ? serviceAccountSelector(target.serviceAccount) : LABEL_SERVICE_ACCOUNT,
        (p) => !exempt.has(p.metadata?.namespace ?? '') && (!target || serviceAccountOf(p.spec) === target.serviceAccount),
        batch,
      );
    } catch (err) {
      this.#metrics.relabel('error');
      this.#logger.warn({ ...scope, err: (err as Error).message, ...batch.tally }, 'listing Pods to relabel failed; will retry');
      return 'retry';
    }
    const seconds = (performance.now() - started) / 1000;
    this.#metrics.relabelBatch(seconds);
    this.#logBatch(scope, pods, seconds, batch);
    return batch.tally.failed > 0 ? 'retry' : 'done';
  }

  #logBatch(scope: object, pods: number, seconds: number, batch: Batch): void {
    const { tally } = batch;
    const line = {
      ...scope,
      pods,
      ...tally,
      changes: [...batch.changes].sort().slice(0, 20),
      ms: Math.round(seconds * 1000),
      ...(batch.firstError ? { firstError: batch.firstError } : {}),
    };
    // Quiet when nothing changed: a sweep of a settled cluster logs at debug only.
    if (tally.failed > 0) this.#logger.warn(line, 'relabelled Pods; some failed and the batch will be retried');
    else if (tally.patched > 0 || tally.gone > 0) this.#logger.info(line, 'relabelled Pods');
    else this.#logger.debug(line, 'Pods already carry their identity');
  }

  /** Lists every page of `selector` and relabels what needs it; returns how many Pods it judged. Throws when a list fails. */
  async #relabelAll(namespace: string | undefined, selector: string, keep: (pod: Pod) => boolean, batch: Batch): Promise<number> {
    const pageSize = this.#options.pageSize ?? 500;
    let cont: string | undefined;
    let seen = 0;
    do {
      const page = await this.#pods.list(namespace, selector, { limit: pageSize, continue: cont });
      cont = page.continue;
      const todo = page.items.filter((p) => keep(p) && !isFinished(p));
      seen += todo.length;
      let next = 0;
      const worker = async () => {
        while (next < todo.length && this.#running) await this.#relabelPod(todo[next++]!, batch);
      };
      await Promise.all(Array.from({ length: Math.min(this.#concurrency, todo.length) }, worker));
    } while (cont && this.#running);
    return seen;
  }

  /** Brings one Pod in line, re-reading it after a conflict; counts its outcome. */
  async #relabelPod(first: Pod, batch: Batch): Promise<void> {
    let pod: Pod | undefined = first;
    const namespace = first.metadata?.namespace ?? '';
    const name = first.metadata?.name ?? '';
    for (let attempt = 0; ; attempt++) {
      if (!this.#running) return;
      if (!pod) return this.#count(batch, 'gone');
      const serviceAccount = serviceAccountOf(pod.spec);
      const patch = relabelPatch(pod, this.#identity.resolve(namespace, serviceAccount, this.#options.baseline().trustedIssuerSet));
      if (!patch) return this.#count(batch, 'unchanged');
      await this.#bucket.take();
      // Leadership may have ended while waiting for the token: a former leader writes nothing more.
      if (!this.#running) return;
      try {
        await this.#pods.patch(namespace, name, patch);
        const { added, removed } = summarizePatch(patch);
        for (const k of added) batch.changes.add(`+${k}`);
        for (const k of removed) batch.changes.add(`-${k}`);
        return this.#count(batch, 'patched');
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) return this.#count(batch, 'gone');
        // Forbidden, Invalid, or denied by an admission webhook: retrying at once will not help;
        // the ServiceAccount is queued again with backoff. The batch line carries the first error.
        if (status !== 409 && !transient(status)) {
          batch.firstError ??= (err as Error).message;
          return this.#count(batch, 'failed');
        }
        this.#count(batch, status === 409 ? 'conflict' : 'error');
        if (attempt + 1 >= this.#retry.attempts) {
          batch.firstError ??= (err as Error).message;
          return this.#count(batch, 'failed');
        }
        await sleep(Math.min(this.#retry.initialMs * 2 ** attempt, this.#retry.maxMs));
        // Someone else wrote the Pod (409) or we cannot tell whether our write landed: re-read.
        try {
          pod = await this.#pods.get(namespace, name);
        } catch {
          // Still failing: try the patch again with what we had; the next error is counted.
        }
      }
    }
  }
}
