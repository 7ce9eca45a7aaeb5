import type { Metric, Registry } from 'prom-client'

/** Label values of one series, in the metric's label order. */
type LabelValues = Readonly<Record<string, string | number>>

interface ExportedValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/**
 * Counters and histograms written on every inference request. prom-client's `inc` and `observe`
 * validate and hash their label object and look the series up on every call (about 0.4 µs each
 * here, three per request); here the caller resolves a series once (per model, version, status
 * code) and keeps it, and an observation is a few number writes. They register on the same
 * prom-client `Registry` as every other metric, answering `get()` in the shape prom-client's own
 * counters and histograms do, so exposition, `/metrics` and the cluster's aggregation stay
 * prom-client's.
 */
abstract class HotMetric<S extends { readonly labels: LabelValues }> {
  readonly aggregator = 'sum' as const
  protected readonly all = new Map<string, S>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // prom-client's Registry needs name, help, type, aggregator, get() and reset(); its TypeScript
    // type names only its own classes.
    registry.registerMetric(this as unknown as Metric)
  }

  /** The series with these label values (created on first use). Resolve once and keep it. */
  series(labels: LabelValues): S {
    let key = ''
    for (const n of this.labelNames) key += `${labels[n] ?? ''}\u0000`
    let s = this.all.get(key)
    if (s === undefined) {
      const own: Record<string, string | number> = {}
      for (const n of this.labelNames) own[n] = labels[n] ?? ''
      s = this.create(Object.freeze(own))
      this.all.set(key, s)
    }
    return s
  }

  /** Drops the series with these label values (an unloaded version), if any. */
  remove(labels: LabelValues): void {
    let key = ''
    for (const n of this.labelNames) key += `${labels[n] ?? ''}\u0000`
    this.all.delete(key)
  }

  reset(): void {
    this.all.clear()
  }

  protected abstract create(labels: LabelValues): S
}

export class CounterSeries {
  value = 0
  constructor(readonly labels: LabelValues) {}
  inc(by = 1): void {
    this.value += by
  }
}

export class HotCounter extends HotMetric<CounterSeries> {
  constructor(o: { name: string; help: string; labelNames: readonly string[]; registry: Registry }) {
    super(o.name, o.help, 'counter', o.labelNames, o.registry)
  }

  protected create(labels: LabelValues): CounterSeries {
    return new CounterSeries(labels)
  }

  async get() {
    const values: ExportedValue[] = []
    for (const s of this.all.values()) values.push({ value: s.value, labels: { ...s.labels } })
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot holds those above every bound. */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(
    readonly labels: LabelValues,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe(value: number): void {
    // NaN would poison the sum for good; durations never are, but a caller bug must not.
    if (value !== value) return
    const b = this.bounds
    let i = 0
    while (i < b.length && value > (b[i] as number)) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }
}

export class HotHistogram extends HotMetric<HistogramSeries> {
  private readonly bounds: readonly number[]

  constructor(o: { name: string; help: string; labelNames: readonly string[]; buckets: readonly number[]; registry: Registry }) {
    super(o.name, o.help, 'histogram', o.labelNames, o.registry)
    this.bounds = [...o.buckets].sort((a, b) => a - b)
  }

  protected create(labels: LabelValues): HistogramSeries {
    return new HistogramSeries(labels, this.bounds)
  }

  async get() {
    const values: ExportedValue[] = []
    const bucket = `${this.name}_bucket`
    for (const s of this.all.values()) {
      let cumulative = 0
      // `le` first, then the series' labels: the order prom-client's histograms print.
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i] as number
        values.push({ value: cumulative, labels: { le: this.bounds[i] as number, ...s.labels }, metricName: bucket })
      }
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: bucket })
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` })
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}
