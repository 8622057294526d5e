/**
 * The admission latency histogram (docs/design.md#the-decision-line-and-the-request-counts),
 * counted in plain numbers on the request path and handed to prom-client's registry as a
 * metric of its own, read when /metrics is scraped.
 *
 * prom-client's `Histogram.observe` checks every label against the label names and hashes the
 * label object into a string on every call: 1.2–1.6 µs of server CPU per review on a small Pod
 * (BENCHMARKS.md), the most of any metric. Here an observation is three map reads, a walk
 * over six bounds and three additions. What /metrics shows is byte for byte what a prom-client
 * `Histogram` with the same name, help, label names and buckets shows after the same
 * observations (test/webhook/latency-histogram.test.ts), so dashboards see no difference.
 */
import type { Metric, Registry } from 'prom-client';

type Labels = { readonly webhook: string; readonly operation: string; readonly decision: string };

interface Series {
  readonly labels: Labels;
  /** Observations per bucket: `counts[i]` for bounds[i-1] < v ≤ bounds[i], the last for v above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** One line of the exposition, in the form prom-client's registry formats. */
interface Value {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Labels;
  readonly value: number;
  readonly metricName: string;
  /** prom-client's own: null on buckets, undefined on sum and count (no exemplars here). */
  readonly exemplar: null | undefined;
}

export interface LatencyHistogramOptions {
  readonly name: string;
  readonly help: string;
  /** Upper bounds in seconds, ascending. */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

/** A histogram of seconds by webhook, operation and decision. */
export class LatencyHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  /** webhook → operation → decision → series. */
  readonly #series = new Map<string, Map<string, Map<string, Series>>>();
  /** Every series in the order of its first observation (prom-client's order on /metrics). */
  #all: Series[] = [];

  constructor({ name, help, buckets, registers }: LatencyHistogramOptions) {
    this.name = name;
    this.help = help;
    this.#bounds = [...buckets];
    // The registry reads a metric through `get`/`getForPromString` and `reset` only; its type
    // names prom-client's own classes.
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** One review of `webhook` answered in `seconds`. */
  observe(webhook: string, operation: string, decision: string, seconds: number): void {
    const byOperation = this.#series.get(webhook) ?? this.#series.set(webhook, new Map()).get(webhook)!;
    const byDecision = byOperation.get(operation) ?? byOperation.set(operation, new Map()).get(operation)!;
    const series = byDecision.get(decision) ?? byDecision.set(decision, this.#newSeries({ webhook, operation, decision })).get(decision)!;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += seconds;
    series.count++;
  }

  #newSeries(labels: Labels): Series {
    const series = { labels, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
    this.#all.push(series);
    return series;
  }

  /** The exposition's lines: cumulative buckets, `+Inf`, sum and count per series (what the registry formats). */
  async getForPromString(): Promise<{ name: string; help: string; type: string; values: Value[]; aggregator: string }> {
    const bucket = `${this.name}_bucket`;
    const values: Value[] = [];
    for (const { labels, counts, sum, count } of this.#all) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { le }, sharedLabels: labels, value: cumulative, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same lines with each series' labels merged into its own (`registry.getMetricsAsJSON`). */
  async get(): Promise<{ name: string; help: string; type: string; values: Array<Omit<Value, 'sharedLabels'>>; aggregator: string }> {
    const metric = await this.getForPromString();
    return { ...metric, values: metric.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
  }

  /** Forgets every observation (`registry.resetMetrics()`). */
  reset(): void {
    this.#series.clear();
    this.#all = [];
  }
}
