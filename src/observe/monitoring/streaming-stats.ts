import { binIndex } from './psi.js'
import { TDigest, type DigestSnapshot } from './t-digest.js'
import type { FeatureReference } from './training-stats.js'

/**
 * One feature's statistics as plain data (JSON over the cluster IPC channel). Everything in it adds
 * up across workers: counts sum, mean and m2 combine exactly (Chan et al.), digests merge.
 */
export interface StatsSnapshot {
  /** Predictions that could have carried the feature (since it was first tracked). */
  count: number
  /** Of those, predictions where it was absent, null or not a finite number. */
  missing: number
  /** Mean of the numeric values, and the sum of squared deviations from it (Welford). */
  mean: number
  m2: number
  min: number | null
  max: number | null
  /** Numeric values per reference bin; null without a reference. */
  bins: number[] | null
  /** The quantile sketch; left out when only PSI is needed (metrics, warnings). */
  digest: DigestSnapshot | null
  reference: FeatureReference | null
}

/** Streaming statistics of one numeric series: count, mean/std (Welford), a t-digest, reference bin counts. */
export class StreamingStats {
  private n = 0
  private mean = 0
  private m2 = 0
  private min = Infinity
  private max = -Infinity
  private readonly digest = new TDigest()
  private readonly bins: number[] | null

  /** `since`: how many of the version's predictions came before this series was tracked. */
  constructor(
    readonly reference: FeatureReference | undefined,
    readonly since: number,
  ) {
    this.bins = reference ? new Array<number>(reference.fractions.length).fill(0) : null
  }

  /** Adds one finite value. */
  add(x: number): void {
    this.n++
    const d = x - this.mean
    this.mean += d / this.n
    this.m2 += d * (x - this.mean)
    if (x < this.min) this.min = x
    if (x > this.max) this.max = x
    this.digest.add(x)
    if (this.bins && this.reference) this.bins[binIndex(this.reference.bins, x)]!++
  }

  /** `events`: the version's predictions so far (values missing from some are counted as missing). */
  snapshot(events: number, withDigest: boolean): StatsSnapshot {
    const count = Math.max(events - this.since, this.n)
    return {
      count,
      missing: count - this.n,
      mean: this.mean,
      m2: this.m2,
      min: this.n > 0 ? this.min : null,
      max: this.n > 0 ? this.max : null,
      bins: this.bins ? [...this.bins] : null,
      digest: withDigest ? this.digest.toJSON() : null,
      reference: this.reference ?? null,
    }
  }
}

/** Numeric values in a snapshot. */
export const numericCount = (s: StatsSnapshot): number => s.count - s.missing

/** One snapshot for two streams (two workers), as if one process had seen both. */
export function mergeStats(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  const na = numericCount(a)
  const nb = numericCount(b)
  const n = na + nb
  const delta = b.mean - a.mean
  const mean = n === 0 ? 0 : a.mean + (delta * nb) / n
  const m2 = n === 0 ? 0 : a.m2 + b.m2 + (delta * delta * na * nb) / n
  let digest: DigestSnapshot | null = a.digest ?? b.digest
  if (a.digest && b.digest) {
    const d = TDigest.from(a.digest)
    d.absorb(b.digest)
    digest = d.toJSON()
  }
  // Bins are counted against the same immutable reference; a length mismatch cannot happen for one version.
  const bins = a.bins && b.bins && a.bins.length === b.bins.length ? a.bins.map((c, i) => c + (b.bins![i] as number)) : (a.bins ?? b.bins)
  return {
    count: a.count + b.count,
    missing: a.missing + b.missing,
    mean,
    m2,
    min: either(a.min, b.min, Math.min),
    max: either(a.max, b.max, Math.max),
    bins,
    digest,
    reference: a.reference ?? b.reference,
  }
}

function either(a: number | null, b: number | null, pick: (x: number, y: number) => number): number | null {
  if (a === null) return b
  if (b === null) return a
  return pick(a, b)
}
