import type { PredictionEvent, PredictionListener } from '../prediction-event.js'
import { forEachNumber, outputNumber } from './numeric.js'
import { mergeSnapshots, type SnapshotQuery, type VersionSnapshot } from './snapshot.js'
import { StreamingStats, type StatsSnapshot } from './streaming-stats.js'
import type { TrainingStats } from './training-stats.js'

/** Numeric features tracked per version; more are counted as `truncated`, not stored (bounded memory). */
export const MAX_FEATURES = 200

/**
 * Finds a loaded version and its reference distribution (`training_stats` of its `model.json`);
 * undefined when the version is not loaded. observe/ imports no other layer, so the composition
 * root passes this in.
 */
export type VersionLookup = (modelId: string, version: string) => { reference: TrainingStats | undefined } | undefined

export interface DriftMonitorOptions {
  lookup: VersionLookup
  /** Fraction of predictions recorded, 0 to 1. */
  sampleRate: number
  /**
   * Most predictions recorded per second per version (in this process); 0 for no limit. Above it,
   * each prediction is recorded with probability limit / last second's rate, so busy versions cost a
   * bounded amount of work while quiet ones are counted in full.
   */
  maxPerSecond?: number
  maxFeatures?: number
  /** For tests: a deterministic sampler. */
  random?: () => number
  /** For tests: the clock (ms). */
  now?: () => number
}

interface VersionState {
  readonly modelId: string
  readonly version: string
  readonly reference: TrainingStats | undefined
  events: number
  readonly features: Map<string, StreamingStats>
  output: StreamingStats | undefined
  /** The object output's monitored field; undefined until chosen (and for plain-number outputs). */
  outputField: string | undefined
  truncated: boolean
  /** The rate limit's window: when it started, predictions seen in it, and the share now recorded. */
  windowStart: number
  arrivals: number
  keep: number
  /** Counts one feature value of the prediction being recorded: made once per version, not per prediction. */
  readonly visit: (name: string, value: number) => void
}

/**
 * Streaming statistics of every numeric feature and of the output, per model version, from
 * prediction events. `record` works inline rather than queueing: the update is arithmetic on at most
 * `maxFeatures` numbers with no I/O, which costs less than a queue's allocations would.
 */
export class DriftMonitor implements PredictionListener {
  private readonly models = new Map<string, Map<string, VersionState>>()
  private readonly lookup: VersionLookup
  private readonly sampleRate: number
  private readonly maxPerSecond: number
  private readonly maxFeatures: number
  private readonly random: () => number
  private readonly now: () => number

  constructor(options: DriftMonitorOptions) {
    this.lookup = options.lookup
    this.sampleRate = options.sampleRate
    this.maxPerSecond = options.maxPerSecond ?? 0
    this.now = options.now ?? Date.now
    this.maxFeatures = options.maxFeatures ?? MAX_FEATURES
    this.random = options.random ?? Math.random
  }

  wants(): boolean {
    // Sampling is decided in `record`: it must hold however the data plane combines listeners.
    return this.sampleRate > 0
  }

  record(event: PredictionEvent): void {
    try {
      if (this.sampleRate < 1 && this.random() >= this.sampleRate) return
      const state = this.state(event.model_id, event.model_version)
      if (state && this.admit(state)) this.update(state, event)
    } catch {
      // A monitoring bug must never reach a request; the event is simply not counted.
    }
  }

  /** The state of every version (or one model's), as plain data. */
  snapshot(query: SnapshotQuery): VersionSnapshot[] {
    this.prune()
    const out: VersionSnapshot[] = []
    for (const [modelId, versions] of this.models) {
      if (query.model_id !== null && modelId !== query.model_id) continue
      for (const s of versions.values()) {
        const features: Record<string, StatsSnapshot> = {}
        for (const [name, stats] of s.features) features[name] = stats.snapshot(s.events, query.quantiles)
        out.push({
          model_id: s.modelId,
          model_version: s.version,
          events: s.events,
          features,
          output: s.output?.snapshot(s.events, query.quantiles) ?? null,
          output_field: s.outputField ?? null,
          truncated: s.truncated,
        })
      }
    }
    return mergeSnapshots(out)
  }

  async close(): Promise<void> {
    // Nothing is queued: state lives in memory and is read through `snapshot`.
  }

  private state(modelId: string, version: string): VersionState | undefined {
    const found = this.models.get(modelId)?.get(version)
    if (found) return found
    const loaded = this.lookup(modelId, version)
    if (loaded === undefined) return undefined
    // A new version is the moment old ones may have been unloaded: forget those.
    this.prune()
    const reference = loaded.reference
    const state: VersionState = {
      modelId,
      version,
      reference,
      events: 0,
      features: new Map(),
      output: undefined,
      outputField: reference?.output?.field,
      truncated: false,
      windowStart: this.now(),
      arrivals: 0,
      keep: 1,
      visit: (name, x) => this.addFeature(state, name, x),
    }
    // Reference features are tracked from the first prediction, so one that never arrives shows as 100% missing.
    for (const [name, ref] of Object.entries(reference?.features ?? {}).slice(0, this.maxFeatures)) state.features.set(name, new StreamingStats(ref, 0))
    if (reference?.output) state.output = new StreamingStats(reference.output, 0)
    let versions = this.models.get(modelId)
    if (!versions) this.models.set(modelId, (versions = new Map()))
    versions.set(version, state)
    return state
  }

  private update(state: VersionState, event: PredictionEvent): void {
    const index = state.events++
    forEachNumber(event.features, state.visit)
    // The output's field is fixed by the first output that has one, so every prediction counts the same field.
    const y = outputNumber(event.output, state.outputField)
    if (y === undefined) return
    state.outputField ??= y.field
    ;(state.output ??= new StreamingStats(undefined, index)).add(y.value)
  }

  /** The per-second limit: whether this prediction is recorded. */
  private admit(state: VersionState): boolean {
    if (this.maxPerSecond <= 0) return true
    const now = this.now()
    const elapsed = now - state.windowStart
    if (elapsed >= 1000) {
      const rate = (state.arrivals * 1000) / elapsed
      state.keep = rate > this.maxPerSecond ? this.maxPerSecond / rate : 1
      state.windowStart = now
      state.arrivals = 0
    }
    state.arrivals++
    return state.keep >= 1 || this.random() < state.keep
  }

  private addFeature(state: VersionState, name: string, x: number): void {
    let stats = state.features.get(name)
    if (stats === undefined) {
      if (state.features.size >= this.maxFeatures) {
        state.truncated = true
        return
      }
      // Own keys only: a feature named "constructor" has no reference.
      const ref = state.reference && Object.hasOwn(state.reference.features, name) ? state.reference.features[name] : undefined
      // Tracked from this prediction on (the version's events were counted before the visit).
      stats = new StreamingStats(ref, state.events - 1)
      state.features.set(name, stats)
    }
    stats.add(x)
  }

  private prune(): void {
    for (const [modelId, versions] of this.models) {
      for (const version of versions.keys()) if (this.lookup(modelId, version) === undefined) versions.delete(version)
      if (versions.size === 0) this.models.delete(modelId)
    }
  }
}
