/** A t-digest as plain data: what crosses the cluster IPC channel and what `TDigest.from` reads back. */
export interface DigestSnapshot {
  readonly compression: number
  /** Centroid means, ascending. */
  readonly means: number[]
  /** Centroid weights (observations per centroid), in the order of `means`. */
  readonly weights: number[]
  readonly min: number
  readonly max: number
}

/** 100 keeps ~50-100 centroids: rank error well under 1% (see test/unit/observe/monitoring-sketch.test.ts). */
export const DEFAULT_COMPRESSION = 100

/**
 * A mergeable quantile sketch: Dunning's merging t-digest with the k1 (arcsine) scale function.
 * Values go to a fixed buffer; when it fills they are sorted and merged into at most ~compression
 * centroids, small near the tails and larger in the middle. Two digests merge by pooling their
 * centroids and compressing again, which is what makes per-worker sketches add up to one for the
 * whole service. Memory is bounded: the buffer plus the centroids, whatever the count.
 */
export class TDigest {
  // Centroids live in preallocated typed arrays: the greedy merge leaves fewer than `compression`
  // (two neighbours always span more than one unit of k), so nothing grows after construction.
  private means: Float64Array
  private weights: Float64Array
  private scratchMeans: Float64Array
  private scratchWeights: Float64Array
  private size = 0
  private total = 0
  private readonly buffer: Float64Array
  private buffered = 0
  private min = Infinity
  private max = -Infinity

  constructor(readonly compression = DEFAULT_COMPRESSION) {
    const capacity = Math.ceil(compression) + 8
    this.means = new Float64Array(capacity)
    this.weights = new Float64Array(capacity)
    this.scratchMeans = new Float64Array(capacity)
    this.scratchWeights = new Float64Array(capacity)
    this.buffer = new Float64Array(Math.ceil(compression * 5))
  }

  static from(s: DigestSnapshot): TDigest {
    const d = new TDigest(s.compression)
    d.absorb(s)
    return d
  }

  /** Observations added so far. */
  get count(): number {
    return this.total + this.buffered
  }

  /** Adds one finite value (callers filter NaN and infinities). */
  add(x: number): void {
    this.buffer[this.buffered++] = x
    if (x < this.min) this.min = x
    if (x > this.max) this.max = x
    if (this.buffered === this.buffer.length) this.flush()
  }

  /** Adds another digest's observations to this one. */
  absorb(other: DigestSnapshot): void {
    if (other.means.length === 0) return
    this.flush()
    this.min = Math.min(this.min, other.min)
    this.max = Math.max(this.max, other.max)
    let added = 0
    for (const w of other.weights) added += w
    this.mergeCompress(other.means, other.weights, other.means.length, added)
  }

  /** The value below which a fraction `q` of the observations fall; NaN when empty. */
  quantile(q: number): number {
    this.flush()
    const n = this.size
    if (n === 0) return NaN
    if (q <= 0) return this.min
    if (q >= 1) return this.max
    const t = q * this.total
    // Each centroid's mean sits at the centre of its weight; interpolate between neighbouring
    // centres, and between the extremes and the first and last centres.
    let before = 0
    let prevCentre = 0
    let prevMean = this.min
    for (let i = 0; i < n; i++) {
      const w = this.weights[i] as number
      const m = this.means[i] as number
      const centre = before + w / 2
      if (t < centre) return interpolate(prevMean, m, prevCentre, centre, t)
      before += w
      prevCentre = centre
      prevMean = m
    }
    return interpolate(prevMean, this.max, prevCentre, this.total, t)
  }

  toJSON(): DigestSnapshot {
    this.flush()
    return { compression: this.compression, means: Array.from(this.means.subarray(0, this.size)), weights: Array.from(this.weights.subarray(0, this.size)), min: this.min, max: this.max }
  }

  private flush(): void {
    if (this.buffered === 0) return
    const n = this.buffered
    this.buffer.subarray(0, n).sort()
    this.buffered = 0
    this.mergeCompress(this.buffer, null, n, n)
  }

  /**
   * Merges sorted incoming points (weight 1 when `inWeights` is null) with the centroids in one pass,
   * and compresses greedily: a neighbour joins the current centroid while the k1 scale allows.
   */
  private mergeCompress(inMeans: ArrayLike<number>, inWeights: ArrayLike<number> | null, inCount: number, inTotal: number): void {
    const total = this.total + inTotal
    const outMeans = this.scratchMeans
    const outWeights = this.scratchWeights
    let out = 0
    let mean = 0
    let weight = 0
    let before = 0
    let limit = total * this.qLimit(0)
    let i = 0
    let j = 0
    while (i < this.size || j < inCount) {
      let m: number
      let w: number
      if (j >= inCount || (i < this.size && (this.means[i] as number) <= (inMeans[j] as number))) {
        m = this.means[i] as number
        w = this.weights[i] as number
        i++
      } else {
        m = inMeans[j] as number
        w = inWeights === null ? 1 : (inWeights[j] as number)
        j++
      }
      if (weight === 0) {
        mean = m
        weight = w
      } else if (before + weight + w <= limit) {
        weight += w
        mean += ((m - mean) * w) / weight
      } else {
        outMeans[out] = mean
        outWeights[out] = weight
        out++
        before += weight
        limit = total * this.qLimit(before / total)
        mean = m
        weight = w
      }
    }
    outMeans[out] = mean
    outWeights[out] = weight
    out++
    this.scratchMeans = this.means
    this.scratchWeights = this.weights
    this.means = outMeans
    this.weights = outWeights
    this.size = out
    this.total = total
  }

  /** The largest quantile a centroid starting at `q` may reach: k(q_end) - k(q) <= 1 with k(q) = δ/2π·asin(2q-1). */
  private qLimit(q: number): number {
    const k = (this.compression / (2 * Math.PI)) * Math.asin(2 * q - 1) + 1
    if (k >= this.compression / 4) return 1
    return (Math.sin((k * 2 * Math.PI) / this.compression) + 1) / 2
  }
}

function interpolate(a: number, b: number, x0: number, x1: number, x: number): number {
  if (x1 <= x0) return b
  return a + ((b - a) * (x - x0)) / (x1 - x0)
}
