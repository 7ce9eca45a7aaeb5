import { mergeStats, type StatsSnapshot } from './streaming-stats.js'

/** Feature name under which the model's output is reported (and labelled in metrics). */
export const OUTPUT_NAME = '_output'

/** One model version's monitoring state as plain data: what a worker reports and the primary merges. */
export interface VersionSnapshot {
  model_id: string
  model_version: string
  /** Predictions recorded (after sampling). */
  events: number
  /** Numeric features, by name, in the order they were first tracked. */
  features: Record<string, StatsSnapshot>
  /** The numeric output (or the monitored field of an object output); null when none was seen. */
  output: StatsSnapshot | null
  /** The object output's field that `output` describes; null for a plain number. */
  output_field: string | null
  /** More numeric features than the tracking limit were seen; the rest are not monitored. */
  truncated: boolean
}

/** What to report: one model or all, and whether to include the quantile sketches. */
export interface SnapshotQuery {
  model_id: string | null
  /** Sketches are the bulk of a snapshot; PSI (metrics, warnings) needs only the bin counts. */
  quantiles: boolean
}

/** The merged state of every worker, and how many answered. */
export interface GatheredSnapshots {
  snapshots: VersionSnapshot[]
  workers: { total: number; answered: number }
}

/** Merges snapshots of the same versions from several workers into one per version. */
export function mergeSnapshots(all: readonly VersionSnapshot[]): VersionSnapshot[] {
  const byVersion = new Map<string, VersionSnapshot>()
  for (const s of all) {
    const key = `${s.model_id}@${s.model_version}`
    const seen = byVersion.get(key)
    byVersion.set(key, seen ? mergeVersion(seen, s) : s)
  }
  return [...byVersion.values()].sort((a, b) => (a.model_id === b.model_id ? compareVersions(a.model_version, b.model_version) : a.model_id < b.model_id ? -1 : 1))
}

function mergeVersion(a: VersionSnapshot, b: VersionSnapshot): VersionSnapshot {
  const features: Record<string, StatsSnapshot> = { ...a.features }
  for (const [name, stats] of Object.entries(b.features)) {
    const mine = features[name]
    features[name] = mine ? mergeStats(mine, stats) : stats
  }
  const output = a.output && b.output ? mergeStats(a.output, b.output) : (a.output ?? b.output)
  return {
    model_id: a.model_id,
    model_version: a.model_version,
    events: a.events + b.events,
    features,
    output,
    output_field: a.output_field ?? b.output_field,
    truncated: a.truncated || b.truncated,
  }
}

/** Integers numerically, then names, as the version policy orders them. */
function compareVersions(a: string, b: string): number {
  const ia = /^\d+$/.test(a)
  const ib = /^\d+$/.test(b)
  if (ia && ib) return Number(a) - Number(b)
  if (ia !== ib) return ia ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}
