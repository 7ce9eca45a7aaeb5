import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { HotCounter, HotHistogram, type CounterSeries, type HistogramSeries } from './hot-metrics.js'

/** 0.1 ms to 10 s: model latency spans four orders of magnitude. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

/** What a self-test left on a version, for the gauges. */
export interface SelfTestSummary {
  status: 'passed' | 'failed' | 'none'
  cases: number
  failed: number
  maxError: number
  durationMs: number
}

/**
 * Every servekit metric, on a registry of its own (no globals): one per process, summed over the
 * cluster's workers by the primary (`AggregatorRegistry`). Label values are bounded: `model` is a
 * configured id (unknown ids are counted as `_unknown`), `version` a loaded version.
 */
export class Metrics {
  readonly registry = new Registry()
  /** Written on every request: see hot-metrics.ts. */
  readonly requests: HotCounter
  readonly requestDuration: HotHistogram
  readonly predictDuration: HotHistogram
  readonly inFlight: Gauge
  readonly batchSize: Histogram<'model'>
  readonly selfTestStatus: Gauge<'model' | 'version'>
  readonly selfTestCases: Gauge<'model' | 'version' | 'outcome'>
  readonly selfTestMaxError: Gauge<'model' | 'version'>
  readonly loadDuration: Histogram<'model'>
  readonly loadFailures: Counter<'model' | 'reason'>
  readonly versionInfo: Gauge<'model' | 'version' | 'role'>
  readonly shadowDuration: Histogram<'model' | 'target'>
  readonly shadowErrors: Counter<'model' | 'target'>
  readonly shadowAgreement: Counter<'model' | 'target' | 'agreed'>
  readonly shadowDropped: Counter<'model'>
  readonly requestsQueued: Gauge<'model'>
  readonly predictionLogEvents: Counter<'sink' | 'outcome'>
  readonly predictionLogDropped: Counter
  private readonly knownModels: ReadonlySet<string>
  /** Set by the service: the number of predictions running now. */
  inFlightSource: () => number = () => 0
  private readonly requestSeries = new Map<string, { duration: HistogramSeries; versions: Map<string, Map<number, CounterSeries>> }>()
  private readonly versionSeries = new Map<string, Array<{ model: string; version: string; role: string }>>()

  constructor(models: readonly string[], options: { processMetrics?: boolean } = {}) {
    this.knownModels = new Set(models)
    const r = [this.registry]
    const registry = this.registry
    this.requests = new HotCounter({ name: 'servekit_requests_total', help: 'Inference requests answered, by model, version and HTTP status code.', labelNames: ['model', 'version', 'code'], registry })
    this.requestDuration = new HotHistogram({ name: 'servekit_request_duration_seconds', help: 'Time from request received to response sent, for /infer and /infer/batch.', labelNames: ['model'], buckets: LATENCY_BUCKETS, registry })
    this.predictDuration = new HotHistogram({ name: 'servekit_predict_duration_seconds', help: "Time spent in the model's schema check and predict.", labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registry })
    const inFlightSource = () => this.inFlightSource()
    // Read at scrape time from the versions' own counters: exact even when a client disconnects
    // (Fastify then runs no response hook), and no per-request gauge update.
    this.inFlight = new Gauge({
      name: 'servekit_requests_in_flight',
      help: 'Predictions running on loaded versions now.',
      registers: r,
      collect() {
        this.set(inFlightSource())
      },
    })
    this.batchSize = new Histogram({ name: 'servekit_batch_size', help: 'Feature sets per predictBatch call (batch endpoint and dynamic batching).', labelNames: ['model'], buckets: SIZE_BUCKETS, registers: r })
    // Per-version state is the same in every worker: the primary keeps the maximum, not the sum.
    this.selfTestStatus = new Gauge({ name: 'servekit_self_test_passed', help: 'Whether the version passed its self-test after loading: 1 passed, 0 failed, -1 no test cases.', labelNames: ['model', 'version'], registers: r, aggregator: 'max' })
    this.selfTestCases = new Gauge({ name: 'servekit_self_test_cases', help: 'Self-test cases of the version, by outcome (passed, failed).', labelNames: ['model', 'version', 'outcome'], registers: r, aggregator: 'max' })
    this.selfTestMaxError = new Gauge({ name: 'servekit_self_test_max_error', help: 'Largest numeric difference between expected and got in the version self-test.', labelNames: ['model', 'version'], registers: r, aggregator: 'max' })
    this.loadDuration = new Histogram({ name: 'servekit_model_load_duration_seconds', help: 'Time to load a model version (artifact, load, before the self-test).', labelNames: ['model'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120], registers: r })
    this.loadFailures = new Counter({ name: 'servekit_model_load_failures_total', help: 'Versions refused, by reason: load, self_test, compatibility.', labelNames: ['model', 'reason'], registers: r })
    this.versionInfo = new Gauge({ name: 'servekit_model_version_loaded', help: 'Loaded model versions (1), with role serving (the default) or loaded.', labelNames: ['model', 'version', 'role'], registers: r, aggregator: 'max' })
    // Shadow traffic (src/traffic/): `target` is the configured target (`model` or `model@version`), so bounded.
    this.shadowDuration = new Histogram({ name: 'servekit_shadow_duration_seconds', help: 'Time a shadow prediction took, from its start to its answer, error or timeout.', labelNames: ['model', 'target'], buckets: LATENCY_BUCKETS, registers: r })
    this.shadowErrors = new Counter({ name: 'servekit_shadow_errors_total', help: 'Shadow predictions that failed or timed out.', labelNames: ['model', 'target'], registers: r })
    this.shadowAgreement = new Counter({ name: 'servekit_shadow_agreement_total', help: 'Shadow predictions compared with the primary: agreed="true" when equal (numbers within tolerance).', labelNames: ['model', 'target', 'agreed'], registers: r })
    this.requestsQueued = new Gauge({ name: 'servekit_requests_queued', help: "Requests waiting for a slot in the model's concurrency limit (concurrency.queue).", labelNames: ['model'], registers: r })
    this.shadowDropped = new Counter({ name: 'servekit_shadow_dropped_total', help: 'Shadowed requests dropped because the shadow queue was full.', labelNames: ['model'], registers: r })
    this.predictionLogEvents = new Counter({ name: 'servekit_prediction_log_events_total', help: 'Prediction log events handed to the sink, by sink and outcome (written, failed after retries).', labelNames: ['sink', 'outcome'], registers: r })
    this.predictionLogDropped = new Counter({ name: 'servekit_prediction_log_dropped_total', help: 'Prediction log events dropped because the buffer was full (the sink is slower than the traffic).', registers: r })
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  /**
   * Counts one answered inference request and its latency. The series are resolved once per model,
   * version and status code and kept: a request costs three Map lookups and a few additions.
   */
  recordRequest(modelId: string | undefined, version: string, code: number, seconds: number): void {
    const model = this.modelLabel(modelId)
    let m = this.requestSeries.get(model)
    if (m === undefined) this.requestSeries.set(model, (m = { duration: this.requestDuration.series({ model }), versions: new Map() }))
    let codes = m.versions.get(version)
    if (codes === undefined) m.versions.set(version, (codes = new Map()))
    let count = codes.get(code)
    if (count === undefined) codes.set(code, (count = this.requests.series({ model, version, code })))
    count.inc()
    m.duration.observe(seconds)
  }

  /** A configured model id, or `_unknown`: hostile ids must not create label values. */
  modelLabel(id: string | undefined): string {
    if (id === undefined) return '_unknown'
    const at = id.indexOf('@')
    const name = at === -1 ? id : id.slice(0, at)
    return this.knownModels.has(name) ? name : '_unknown'
  }

  recordSelfTest(model: string, version: string, t: SelfTestSummary): void {
    this.selfTestStatus.set({ model, version }, t.status === 'passed' ? 1 : t.status === 'failed' ? 0 : -1)
    this.selfTestCases.set({ model, version, outcome: 'passed' }, t.cases - t.failed)
    this.selfTestCases.set({ model, version, outcome: 'failed' }, t.failed)
    this.selfTestMaxError.set({ model, version }, Number.isFinite(t.maxError) ? t.maxError : -1)
  }

  /** Replaces the loaded-version gauges of one model with what it has now. */
  recordVersions(model: string, versions: ReadonlyArray<{ version: string; serving: boolean }>): void {
    for (const labels of this.versionSeries.get(model) ?? []) this.versionInfo.remove(labels)
    const series = versions.map((v) => ({ model, version: v.version, role: v.serving ? 'serving' : 'loaded' }))
    for (const labels of series) this.versionInfo.set(labels, 1)
    this.versionSeries.set(model, series)
  }

  /** Drops the per-version series of an unloaded version, so dashboards do not show ghosts. */
  forgetVersion(model: string, version: string): void {
    for (const g of [this.selfTestStatus, this.selfTestMaxError]) g.remove({ model, version })
    for (const outcome of ['passed', 'failed']) this.selfTestCases.remove({ model, version, outcome })
  }
}
