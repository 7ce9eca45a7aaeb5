import { Gauge, type Registry } from 'prom-client'
import type { Logger } from '../logger.js'
import { driftScores, type DriftOptions } from './report.js'
import type { GatheredSnapshots, SnapshotQuery } from './snapshot.js'

export interface DriftWatchOptions extends DriftOptions {
  /** The service's merged monitoring state: the local monitor, or every worker's through the primary. */
  gather: (query: SnapshotQuery) => Promise<GatheredSnapshots>
  logger: Logger
  /** How often PSI is checked against the threshold (the gauge is computed on every scrape instead). */
  intervalMs: number
}

const PSI_ONLY: SnapshotQuery = { model_id: null, quantiles: false }

/**
 * Turns the service-wide monitoring state into signals: the `servekit_drift_psi` gauge and a
 * `drift above threshold` warning per drifted feature, at most once per feature per interval.
 * Runs in exactly one process per service (the primary, or the only process when embedded), so a
 * drifted feature is one gauge series and one log line, not one per worker.
 */
export class DriftWatch {
  private timer: NodeJS.Timeout | undefined
  private checking = false

  constructor(private readonly options: DriftWatchOptions) {}

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => void this.check(), this.options.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Logs a warning for every feature whose PSI is above the threshold now. */
  async check(): Promise<void> {
    // A slow gather (a busy worker) must not pile up checks.
    if (this.checking) return
    this.checking = true
    try {
      const { snapshots } = await this.options.gather(PSI_ONLY)
      for (const s of snapshots) {
        for (const { feature, psi, count } of driftScores(s, this.options.minCount)) {
          if (psi <= this.options.threshold) continue
          this.options.logger.warn({ model_id: s.model_id, model_version: s.model_version, feature, psi: round(psi), threshold: this.options.threshold, count }, 'drift above threshold')
        }
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'drift check failed')
    } finally {
      this.checking = false
    }
  }

  /** Adds `servekit_drift_psi` to `registry`, computed from the service-wide state on every scrape. */
  registerGauge(registry: Registry): Gauge<'model' | 'version' | 'feature'> {
    const { gather, minCount } = this.options
    return new Gauge({
      name: 'servekit_drift_psi',
      help: 'Population stability index of a numeric feature (or _output) against the version training statistics, over the whole service; absent below monitoring.minCount values.',
      labelNames: ['model', 'version', 'feature'],
      registers: [registry],
      async collect() {
        let gathered: GatheredSnapshots
        try {
          gathered = await gather(PSI_ONLY)
        } catch {
          // A scrape still answers; the series are simply absent this time.
          this.reset()
          return
        }
        this.reset()
        for (const s of gathered.snapshots) {
          for (const { feature, psi } of driftScores(s, minCount)) this.set({ model: s.model_id, version: s.model_version, feature }, psi)
        }
      },
    })
  }
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4
