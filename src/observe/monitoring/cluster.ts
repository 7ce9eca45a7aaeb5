import type { Registry } from 'prom-client'
import type { Logger } from '../logger.js'
import { DriftWatch } from './drift-watch.js'
import { mergeSnapshots, type GatheredSnapshots, type SnapshotQuery, type VersionSnapshot } from './snapshot.js'

/** Primary -> worker: send your monitoring state. */
export interface MonitoringCollect {
  type: 'servekit:monitoring-collect'
  id: number
  query: SnapshotQuery
}
/** Worker -> primary: the answer to a collect. */
export interface MonitoringReport {
  type: 'servekit:monitoring-report'
  id: number
  snapshots: VersionSnapshot[]
}

/** What workers tell the primary about monitoring (the primary does not read the config). */
export interface MonitoringSettings {
  threshold: number
  minCount: number
  intervalMs: number
}

/** A worker that takes collect messages (a node:cluster Worker). */
interface Target {
  send(message: MonitoringCollect): unknown
}

/** A worker that misses this deadline is left out of the answer (and counted as not answering). */
const COLLECT_TIMEOUT_MS = 5_000

/**
 * In the primary: asks every listening worker for its monitoring state and merges the answers.
 * Each worker saw only the requests it served; the sketches and counts are mergeable, so the merge
 * is the service's state as if one process had seen every request.
 */
export function createMonitoringCollector(options: { workers: () => Target[]; timeoutMs?: number }) {
  const pending = new Map<number, (snapshots: VersionSnapshot[]) => void>()
  let ids = 0
  return {
    collect(query: SnapshotQuery): Promise<GatheredSnapshots> {
      const targets = options.workers()
      const id = ++ids
      return new Promise((resolve) => {
        const parts: VersionSnapshot[] = []
        let asked = 0
        let answered = 0
        const finish = (): void => {
          clearTimeout(timer)
          pending.delete(id)
          resolve({ snapshots: mergeSnapshots(parts), workers: { total: targets.length, answered } })
        }
        const timer = setTimeout(finish, options.timeoutMs ?? COLLECT_TIMEOUT_MS)
        pending.set(id, (snapshots) => {
          parts.push(...snapshots)
          if (++answered === asked) finish()
        })
        for (const t of targets) {
          try {
            t.send({ type: 'servekit:monitoring-collect', id, query })
            asked++
          } catch {
            // The worker is going away; it answers nothing.
          }
        }
        if (asked === 0) finish()
      })
    },
    /** A worker's answer. */
    report(m: MonitoringReport): void {
      pending.get(m.id)?.(m.snapshots)
    },
  }
}

/**
 * In the primary: the drift gauge (on the primary's own registry, appended to the workers' summed
 * metrics) and the periodic threshold warnings, both from the merged state of every worker.
 */
export function startClusterDrift(settings: MonitoringSettings, deps: { gather: (query: SnapshotQuery) => Promise<GatheredSnapshots>; logger: Logger; registry: Registry }): DriftWatch {
  const watch = new DriftWatch({ ...settings, gather: deps.gather, logger: deps.logger })
  watch.registerGauge(deps.registry)
  watch.start()
  return watch
}
