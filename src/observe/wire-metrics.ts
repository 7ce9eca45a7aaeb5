import type { HistogramSeries } from './hot-metrics.js'
import type { Metrics } from './metrics.js'

/** The parts of a loaded version and a model entry the metrics need (observe/ imports no other layer). */
interface VersionLike {
  readonly modelId: string
  readonly version: string
  readonly loadMs: number
  readonly selfTest: { status: 'passed' | 'failed' | 'none'; cases: number; failed: number; maxError: number; durationMs: number }
}
interface EntryLike {
  readonly id: string
  readonly serving: VersionLike | undefined
  readonly loaded: ReadonlyMap<string, VersionLike>
}

/**
 * Registry events and predictor hooks that keep the metrics current. The per-version histogram
 * child is looked up once per version, not per request.
 */
export function metricsObservers(metrics: Metrics) {
  const children = new WeakMap<VersionLike, HistogramSeries>()
  return {
    registry: {
      loaded(v: VersionLike) {
        metrics.loadDuration.observe({ model: v.modelId }, v.loadMs / 1000)
        metrics.recordSelfTest(v.modelId, v.version, v.selfTest)
      },
      refused(model: string, _version: string, reason: 'load' | 'self_test' | 'compatibility') {
        metrics.loadFailures.inc({ model, reason })
      },
      changed(entry: EntryLike) {
        metrics.recordVersions(entry.id, [...entry.loaded.values()].map((v) => ({ version: v.version, serving: v === entry.serving })))
      },
      unloaded(v: VersionLike) {
        metrics.forgetVersion(v.modelId, v.version)
      },
    },
    predictor: {
      predicted(v: VersionLike, seconds: number, size: number) {
        let child = children.get(v)
        if (child === undefined) {
          child = metrics.predictDuration.series({ model: v.modelId, version: v.version })
          children.set(v, child)
        }
        child.observe(seconds)
        if (size > 0) metrics.batchSize.observe({ model: v.modelId }, size)
      },
    },
    traffic: {
      shadowed(model: string, target: string, seconds: number, outcome: 'agreed' | 'disagreed' | 'error') {
        metrics.shadowDuration.observe({ model, target }, seconds)
        if (outcome === 'error') metrics.shadowErrors.inc({ model, target })
        else metrics.shadowAgreement.inc({ model, target, agreed: outcome === 'agreed' ? 'true' : 'false' })
      },
      shadowDropped(model: string) {
        metrics.shadowDropped.inc({ model })
      },
      queued(model: string, depth: number) {
        metrics.requestsQueued.set({ model }, depth)
      },
    },
  }
}
