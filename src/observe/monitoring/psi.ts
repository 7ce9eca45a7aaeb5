/**
 * Population stability index: how far the distribution seen in production has moved from the
 * reference (training) distribution, over the reference's bins.
 *
 *   PSI = Σ_i (a_i - e_i) · ln(a_i / e_i)
 *
 * e_i is the fraction of reference values in bin i, a_i the fraction of production values. Each is
 * raised to at least PSI_EPSILON, so an empty bin gives a large but finite term. Usual reading:
 * < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift.
 */
export const PSI_EPSILON = 1e-4

/** Bins per feature that `servekit profile` writes by default (deciles of the reference). */
export const DEFAULT_BINS = 10

/**
 * The bin of `x` for interior edges e_1 < … < e_{k-1}: bin 0 is (-∞, e_1], bin i is (e_i, e_{i+1}],
 * bin k-1 is (e_{k-1}, ∞). Right-closed, so an integer feature whose edges fall on its values puts
 * each value in its own bin.
 */
export function binIndex(edges: readonly number[], x: number): number {
  let lo = 0
  let hi = edges.length
  // First edge >= x.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((edges[mid] as number) < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** PSI of observed bin counts against reference fractions (same bins); NaN when nothing was observed. */
export function psi(expected: readonly number[], observed: readonly number[]): number {
  let n = 0
  for (const c of observed) n += c
  if (n === 0 || expected.length !== observed.length) return NaN
  let sum = 0
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] as number, PSI_EPSILON)
    const a = Math.max((observed[i] as number) / n, PSI_EPSILON)
    sum += (a - e) * Math.log(a / e)
  }
  return sum
}

/**
 * Interior edges at the reference's quantiles 1/k … (k-1)/k, without duplicates: a feature with
 * few distinct values gets fewer bins rather than empty ones.
 */
export function quantileEdges(quantile: (q: number) => number, bins: number): number[] {
  const edges: number[] = []
  for (let i = 1; i < bins; i++) {
    const e = quantile(i / bins)
    if (Number.isFinite(e) && (edges.length === 0 || e > (edges[edges.length - 1] as number))) edges.push(e)
  }
  return edges
}
