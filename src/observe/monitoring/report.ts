import { psi } from './psi.js'
import { OUTPUT_NAME, type VersionSnapshot } from './snapshot.js'
import { numericCount, type StatsSnapshot } from './streaming-stats.js'
import { TDigest } from './t-digest.js'
import { QUANTILES, type QuantileName } from './training-stats.js'

export interface DriftOptions {
  /** PSI above this is drift. */
  threshold: number
  /** Numeric values needed before a PSI is computed: below it, sampling noise dominates. */
  minCount: number
}

/** One feature (or the output) on `GET /models/:id/monitoring`. */
export interface SeriesReport {
  count: number
  missing_rate: number | null
  mean: number | null
  std: number | null
  min: number | null
  max: number | null
  quantiles: Record<QuantileName, number | null> | null
  /** Against the reference bins; null without a reference or below `min_count` values. */
  psi: number | null
  drifted: boolean
  reference: { count: number; missing_rate: number; mean: number; std: number; quantiles: Record<string, number> | null } | null
}

export interface VersionReport {
  model_version: string
  events: number
  /** Whether the version's model.json has training statistics to compare against. */
  has_reference: boolean
  max_psi: number | null
  /** Features (and `_output`) whose PSI is above the threshold. */
  drifted: string[]
  truncated: boolean
  features: Record<string, SeriesReport>
  output: (SeriesReport & { field: string | null }) | null
}

/** PSI of one series against its reference bins, or null when there is none yet. */
export function seriesPsi(s: StatsSnapshot, minCount: number): number | null {
  if (!s.reference || !s.bins || numericCount(s) < Math.max(1, minCount)) return null
  const value = psi(s.reference.fractions, s.bins)
  return Number.isFinite(value) ? value : null
}

/** Every PSI of a version: features by name, the output as `_output`. */
export function driftScores(s: VersionSnapshot, minCount: number): Array<{ feature: string; psi: number; count: number }> {
  const scores: Array<{ feature: string; psi: number; count: number }> = []
  const add = (feature: string, stats: StatsSnapshot): void => {
    const value = seriesPsi(stats, minCount)
    if (value !== null) scores.push({ feature, psi: value, count: numericCount(stats) })
  }
  for (const [name, stats] of Object.entries(s.features)) add(name, stats)
  if (s.output) add(OUTPUT_NAME, s.output)
  return scores
}

export function reportVersion(s: VersionSnapshot, options: DriftOptions): VersionReport {
  const features: Record<string, SeriesReport> = {}
  for (const [name, stats] of Object.entries(s.features)) features[name] = reportSeries(stats, options)
  const output = s.output ? { field: s.output_field, ...reportSeries(s.output, options) } : null
  const all = Object.entries(features)
  if (output) all.push([OUTPUT_NAME, output])
  const scores = all.map(([, r]) => r.psi).filter((p): p is number => p !== null)
  return {
    model_version: s.model_version,
    events: s.events,
    has_reference: all.some(([, r]) => r.reference !== null),
    max_psi: scores.length > 0 ? Math.max(...scores) : null,
    drifted: all.filter(([, r]) => r.drifted).map(([name]) => name),
    truncated: s.truncated,
    features,
    output,
  }
}

/** A loaded version that has recorded nothing yet. */
export function emptyVersionReport(version: string, hasReference: boolean): VersionReport {
  return { model_version: version, events: 0, has_reference: hasReference, max_psi: null, drifted: [], truncated: false, features: {}, output: null }
}

function reportSeries(s: StatsSnapshot, options: DriftOptions): SeriesReport {
  const n = numericCount(s)
  const value = seriesPsi(s, options.minCount)
  let quantiles: Record<QuantileName, number | null> | null = null
  if (s.digest) {
    const digest = TDigest.from(s.digest)
    quantiles = Object.fromEntries(Object.entries(QUANTILES).map(([name, q]) => [name, n > 0 ? digest.quantile(q) : null])) as Record<QuantileName, number | null>
  }
  const ref = s.reference
  return {
    count: s.count,
    missing_rate: s.count > 0 ? s.missing / s.count : null,
    mean: n > 0 ? s.mean : null,
    std: n > 1 ? Math.sqrt(s.m2 / (n - 1)) : n === 1 ? 0 : null,
    min: s.min,
    max: s.max,
    quantiles,
    psi: value,
    drifted: value !== null && value > options.threshold,
    reference: ref ? { count: ref.count, missing_rate: ref.missing_rate, mean: ref.mean, std: ref.std, quantiles: ref.quantiles ?? null } : null,
  }
}
