import { MAX_FEATURES } from './drift-monitor.js'
import { forEachNumber, outputNumber } from './numeric.js'
import { binIndex, DEFAULT_BINS, quantileEdges } from './psi.js'
import { numericCount, StreamingStats } from './streaming-stats.js'
import { TDigest } from './t-digest.js'
import { QUANTILES, trainingStatsSchema, type FeatureReference, type TrainingStats } from './training-stats.js'

export interface ProfileOptions {
  /** Bins per feature (deciles by default). */
  bins?: number
  /** Leave the output out even when rows carry one. */
  featuresOnly?: boolean
  /** For object outputs: the numeric field to profile; default the first numeric field. */
  outputField?: string | undefined
  maxFeatures?: number
}

export interface Profile {
  stats: TrainingStats
  /** Numeric features beyond `maxFeatures`, not profiled. */
  droppedFeatures: string[]
}

/** A row: `{"features": {...}, "output"?: ...}`, or a bare feature record (or array). */
function splitRow(row: unknown): { features: unknown; output: unknown } {
  if (typeof row === 'object' && row !== null && !Array.isArray(row) && 'features' in row) {
    const r = row as { features: unknown; output?: unknown }
    if (typeof r.features === 'object' && r.features !== null) return { features: r.features, output: r.output }
  }
  return { features: row, output: undefined }
}

/**
 * Training statistics of a data set, in two passes over `rows` (called twice): the first computes
 * count, missing rate, mean, std and a t-digest per numeric feature, whose quantiles become the bin
 * edges; the second counts the rows in each bin exactly. Memory stays bounded whatever the row count.
 */
export async function profileRows(rows: () => AsyncIterable<unknown>, options: ProfileOptions = {}): Promise<Profile> {
  const bins = options.bins ?? DEFAULT_BINS
  const maxFeatures = options.maxFeatures ?? MAX_FEATURES
  const features = new Map<string, StreamingStats>()
  const dropped = new Set<string>()
  let output: StreamingStats | undefined
  let outputField = options.outputField
  let count = 0

  for await (const row of rows()) {
    count++
    const { features: f, output: o } = splitRow(row)
    forEachNumber(f, (name, x) => {
      let stats = features.get(name)
      if (stats === undefined) {
        if (features.size >= maxFeatures) {
          dropped.add(name)
          return
        }
        // Every row counts: rows before a feature first appears are missing it.
        features.set(name, (stats = new StreamingStats(undefined, 0)))
      }
      stats.add(x)
    })
    if (options.featuresOnly) continue
    const y = outputNumber(o, outputField)
    if (y === undefined) continue
    outputField ??= y.field
    ;(output ??= new StreamingStats(undefined, 0)).add(y.value)
  }
  if (count === 0) throw new Error('no rows to profile')

  // Bin edges at the reference's quantiles, then exact counts per bin in a second pass.
  const binned = new Map<StreamingStats, { edges: number[]; counts: number[] }>()
  for (const stats of [...features.values(), ...(output ? [output] : [])]) {
    const digest = TDigest.from(stats.snapshot(count, true).digest!)
    const edges = quantileEdges((q) => digest.quantile(q), bins)
    binned.set(stats, { edges, counts: new Array<number>(edges.length + 1).fill(0) })
  }
  const countBin = (stats: StreamingStats | undefined, x: number): void => {
    const b = stats && binned.get(stats)
    if (b) b.counts[binIndex(b.edges, x)]!++
  }
  for await (const row of rows()) {
    const { features: f, output: o } = splitRow(row)
    forEachNumber(f, (name, x) => countBin(features.get(name), x))
    if (!output) continue
    const y = outputNumber(o, outputField)
    if (y) countBin(output, y.value)
  }

  const reference = (stats: StreamingStats): FeatureReference => {
    const s = stats.snapshot(count, true)
    const n = numericCount(s)
    const digest = TDigest.from(s.digest!)
    const { edges, counts } = binned.get(stats)!
    return {
      count: s.count,
      missing_rate: s.missing / s.count,
      mean: s.mean,
      std: n > 1 ? Math.sqrt(s.m2 / (n - 1)) : 0,
      min: s.min ?? 0,
      max: s.max ?? 0,
      quantiles: Object.fromEntries(Object.entries(QUANTILES).map(([q, p]) => [q, digest.quantile(p)])),
      bins: edges,
      fractions: counts.map((k) => k / n),
    }
  }
  const stats: TrainingStats = {
    rows: count,
    created_at: new Date().toISOString(),
    features: Object.fromEntries([...features].map(([name, s]) => [name, reference(s)])),
    ...(output ? { output: { ...(outputField !== undefined ? { field: outputField } : {}), ...reference(output) } } : {}),
  }
  // What `model.json` will be checked against when the version loads.
  return { stats: trainingStatsSchema.parse(stats), droppedFeatures: [...dropped] }
}
