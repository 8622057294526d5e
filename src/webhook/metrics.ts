/**
 * The webhook's Prometheus metrics (docs/design.md#admission-path), registered on a registry passed in so
 * every test and every server gets its own (no prom-client global default registry).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.ts';

/**
 * The API server's own admission webhook latency buckets
 * (apiserver_admission_webhook_admission_duration_seconds: 5ms, 25ms, 100ms, 500ms, 1s, 2.5s),
 * so our histogram lines up with what the cluster reports about us.
 */
export const LATENCY_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5];

export interface WebhookMetrics {
  readonly registry: Registry;
  /** What the admission routes count per request; it feeds `requests` and `inFlight` at each scrape. */
  readonly admission: AdmissionCounts;
  readonly requests: Counter<'webhook' | 'operation' | 'decision'>;
  readonly duration: LatencyHistogram;
  readonly inFlight: Gauge<'webhook'>;
  readonly violations: Counter<'rule' | 'mode'>;
  readonly certExpiry: Gauge;
  readonly cacheSynced: Gauge<'cache'>;
  readonly baselineReloads: Counter<'result'>;
  /** One per Pod CREATE mutated (or not), by outcome; it feeds `mutations` at each scrape. */
  readonly mutationOutcomes: Tally;
  readonly mutations: Counter<'result'>;
  readonly relabel: Counter<'outcome'>;
  readonly relabelSeconds: Histogram;
  readonly leader: Gauge;
}

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop lag) too; default true. */
  readonly processMetrics?: boolean;
  /** Read at each scrape for idgate_cache_synced (the identity cache may sync long after start). */
  readonly cacheSynced?: () => boolean;
}

type Cell = { pending: number };

/** How often each value of one label was counted since the last scrape, for a Counter's `collect`. */
export class Tally {
  readonly #counts = new Map<string, number>();

  add(value: string): void {
    this.#counts.set(value, (this.#counts.get(value) ?? 0) + 1);
  }

  /** Hands the counts since the last call to `add`, and forgets them. */
  drain(add: (value: string, count: number) => void): void {
    for (const [value, count] of this.#counts) {
      if (count === 0) continue;
      add(value, count);
      this.#counts.set(value, 0);
    }
  }
}

/**
 * The admission routes' request counts and in-flight gauge, kept as plain numbers and handed to
 * prom-client when /metrics is read (its `collect` hooks), not on every request: a labelled
 * `inc` or `dec` validates and hashes its label object on every call. Three such calls per
 * review cost about 4 µs of server CPU on a small Pod (bench/ab.ts, BENCHMARKS.md); the counts
 * below cost a few map reads. The latency histogram is counted the same way (latency-histogram.ts).
 */
export class AdmissionCounts {
  /** webhook → operation → requests by decision counted since the last scrape. */
  readonly #answered = new Map<string, Map<string, Tally>>();
  readonly #inFlight = new Map<string, Cell>();

  /** One more request of `webhook` being handled. */
  begin(webhook: string): void {
    const cell = this.#inFlight.get(webhook);
    if (cell) cell.pending++;
    else this.#inFlight.set(webhook, { pending: 1 });
  }

  /** One request of `webhook` no longer being handled. */
  end(webhook: string): void {
    const cell = this.#inFlight.get(webhook);
    if (cell) cell.pending--;
  }

  /** One request answered (or refused) by `webhook`. */
  answered(webhook: string, operation: string, decision: string): void {
    const byOperation = this.#answered.get(webhook) ?? this.#answered.set(webhook, new Map()).get(webhook)!;
    (byOperation.get(operation) ?? byOperation.set(operation, new Tally()).get(operation)!).add(decision);
  }

  /** Hands the requests counted since the last call to `add`, and forgets them. */
  drainAnswered(add: (labels: { webhook: string; operation: string; decision: string }, count: number) => void): void {
    for (const [webhook, byOperation] of this.#answered) {
      for (const [operation, byDecision] of byOperation) byDecision.drain((decision, count) => add({ webhook, operation, decision }, count));
    }
  }

  /** Requests being handled now, by webhook. */
  *inFlight(): IterableIterator<[string, number]> {
    for (const [webhook, cell] of this.#inFlight) yield [webhook, cell.pending];
  }
}

/** What the admission path answered, and the violations it found. */
function admissionMetrics(registers: Registry[]): Pick<WebhookMetrics, 'admission' | 'requests' | 'duration' | 'inFlight' | 'violations'> {
  const admission = new AdmissionCounts();
  return {
    admission,
    requests: new Counter({
      name: 'idgate_admission_requests_total',
      help: 'Admission requests answered, by webhook, operation and decision (allowed, patched, denied, errored; rejected: a bad request; shed: refused for load with 503 and Retry-After, see admission/body.ts).',
      labelNames: ['webhook', 'operation', 'decision'],
      registers,
      collect() {
        admission.drainAnswered((labels, count) => this.inc(labels, count));
      },
    }),
    duration: new LatencyHistogram({
      name: 'idgate_admission_duration_seconds',
      help: 'Time to answer an admission request, from its arrival (body still to read) to the answer written, by webhook, operation and decision.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    inFlight: new Gauge({
      name: 'idgate_admission_in_flight_requests',
      help: 'Admission requests being handled now.',
      labelNames: ['webhook'],
      registers,
      collect() {
        for (const [webhook, count] of admission.inFlight()) this.set({ webhook }, count);
      },
    }),
    violations: new Counter({
      name: 'idgate_violations_total',
      help: 'Baseline violations found, by rule and the mode they were acted on in.',
      labelNames: ['rule', 'mode'],
      registers,
    }),
  };
}

/** The state the webhook serves from: its certificate, identity cache and baseline. */
function stateMetrics(registers: Registry[], cacheSynced: (() => boolean) | undefined): Pick<WebhookMetrics, 'certExpiry' | 'cacheSynced' | 'baselineReloads'> {
  return {
    certExpiry: new Gauge({
      name: 'idgate_certificate_expiry_timestamp_seconds',
      help: 'Unix time at which the serving certificate expires.',
      registers,
    }),
    cacheSynced: new Gauge({
      name: 'idgate_cache_synced',
      help: '1 when the identity cache has completed its first sync, else 0.',
      labelNames: ['cache'],
      registers,
      collect() {
        if (cacheSynced) this.set({ cache: 'bindings' }, cacheSynced() ? 1 : 0);
      },
    }),
    baselineReloads: new Counter({
      name: 'idgate_baseline_reloads_total',
      help: 'Baseline file reloads, by result (ok, failed). A failed reload keeps the last good baseline.',
      labelNames: ['result'],
      registers,
    }),
  };
}

/** What the injector and the controllers did to Pods, and who leads the controllers. */
function identityMetrics(registers: Registry[]): Pick<WebhookMetrics, 'mutationOutcomes' | 'mutations' | 'relabel' | 'relabelSeconds' | 'leader'> {
  const mutationOutcomes = new Tally();
  return {
    mutationOutcomes,
    mutations: new Counter({
      name: 'idgate_mutations_total',
      help: 'Pod CREATE mutations by outcome (injected, not-injected, dry-run, identity-unavailable).',
      labelNames: ['result'],
      registers,
      collect() {
        mutationOutcomes.drain((result, count) => this.inc({ result }, count));
      },
    }),
    relabel: new Counter({
      name: 'idgate_relabel_total',
      help: 'Pods judged by the relabel controller, by outcome (patched, unchanged, gone, conflict, error, failed; conflict and error are retried).',
      labelNames: ['outcome'],
      registers,
    }),
    relabelSeconds: new Histogram({
      name: 'idgate_relabel_seconds',
      help: 'Time one relabel batch (a ServiceAccount, or a sweep of every labelled Pod) took, from its start to its last patch.',
      // docs/design.md#relabel: a thousand Pods within 5 s; the buckets bracket that.
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    leader: new Gauge({
      name: 'idgate_controller_leader',
      help: "1 while this replica holds the controllers' Lease and runs the reconcile loops, else 0.",
      registers,
    }),
  };
}

/** Creates and registers every webhook metric on `registry` (default: a new one). */
export function createMetrics(registry = new Registry(), { processMetrics = true, cacheSynced }: MetricsOptions = {}): WebhookMetrics {
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'idgate_' });
  const registers = [registry];
  // In this order on /metrics.
  return { registry, ...admissionMetrics(registers), ...stateMetrics(registers, cacheSynced), ...identityMetrics(registers) };
}
