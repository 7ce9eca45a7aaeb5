import type { Registry } from 'prom-client'
import type { Logger } from '../logger.js'
import { DriftMonitor, type VersionLookup } from './drift-monitor.js'
import { DriftWatch } from './drift-watch.js'
import { emptyVersionReport, reportVersion, type VersionReport } from './report.js'
import type { GatheredSnapshots, SnapshotQuery } from './snapshot.js'

/** `monitoring` in servekit.config.ts (defaults in config/schema.ts). */
export interface MonitoringConfig {
  sampleRate: number
  maxPerSecond: number
  threshold: number
  minCount: number
  intervalMs: number
}

/** The body of `GET /models/:id/monitoring`. */
export interface ModelMonitoringReport {
  model_id: string
  threshold: number
  min_count: number
  max_per_second: number
  sample_rate: number
  /** Workers whose state is included (all of them unless one did not answer in time). */
  workers: { total: number; answered: number }
  versions: VersionReport[]
}

export interface Monitoring {
  /** The prediction listener to register with the data plane. */
  readonly monitor: DriftMonitor
  /** The service-wide report of one model; `loaded` lists its loaded versions, so one without traffic shows too. */
  report(modelId: string, loaded: ReadonlyArray<{ version: string; hasReference: boolean }>): Promise<ModelMonitoringReport>
  close(): void
}

/**
 * Drift monitoring for one serving process. With `gather` (a cluster worker) the report merges every
 * worker's state through the primary, which also owns the gauge and the warnings. Without it (one
 * process, embedded) this process is the whole service and does both itself.
 */
export function createMonitoring(
  config: MonitoringConfig,
  deps: { lookup: VersionLookup; logger: Logger; registry: Registry | undefined; gather?: ((query: SnapshotQuery) => Promise<GatheredSnapshots>) | undefined },
): Monitoring {
  const monitor = new DriftMonitor({ lookup: deps.lookup, sampleRate: config.sampleRate, maxPerSecond: config.maxPerSecond })
  const local = async (query: SnapshotQuery): Promise<GatheredSnapshots> => ({ snapshots: monitor.snapshot(query), workers: { total: 1, answered: 1 } })
  const gather = deps.gather ?? local
  let watch: DriftWatch | undefined
  if (deps.gather === undefined) {
    watch = new DriftWatch({ ...config, gather: local, logger: deps.logger })
    if (deps.registry) watch.registerGauge(deps.registry)
    watch.start()
  }
  return {
    monitor,
    async report(modelId, loaded) {
      const { snapshots, workers } = await gather({ model_id: modelId, quantiles: true })
      const options = { threshold: config.threshold, minCount: config.minCount }
      const versions = snapshots.filter((s) => s.model_id === modelId).map((s) => reportVersion(s, options))
      for (const v of loaded) if (!versions.some((r) => r.model_version === v.version)) versions.push(emptyVersionReport(v.version, v.hasReference))
      return { model_id: modelId, threshold: config.threshold, min_count: config.minCount, sample_rate: config.sampleRate, max_per_second: config.maxPerSecond, workers, versions }
    },
    close: () => watch?.stop(),
  }
}
