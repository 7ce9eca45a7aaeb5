import { describe, expect, it } from 'vitest'
import { profileRows } from '../../../src/observe/monitoring/profile.js'
import { binIndex, psi, PSI_EPSILON, quantileEdges } from '../../../src/observe/monitoring/psi.js'
import { seriesPsi } from '../../../src/observe/monitoring/report.js'
import { StreamingStats } from '../../../src/observe/monitoring/streaming-stats.js'
import type { FeatureReference } from '../../../src/observe/monitoring/training-stats.js'
import { normal, seeded } from '../../fixtures/monitoring/random.js'

const THRESHOLD = 0.25

async function* rowsOf<T>(rows: readonly T[]): AsyncIterable<T> {
  yield* rows
}

/** A reference profiled from 5000 rows of N(0, 1), as `servekit profile` computes it. */
async function normalReference(): Promise<FeatureReference> {
  const rand = seeded(5)
  const rows = Array.from({ length: 5000 }, () => ({ x: normal(rand) }))
  const { stats } = await profileRows(() => rowsOf(rows))
  return stats.features['x']!
}

function psiOf(reference: FeatureReference, values: number[]): number | null {
  const s = new StreamingStats(reference, 0)
  for (const x of values) s.add(x)
  return seriesPsi(s.snapshot(values.length, false), 100)
}

describe('binIndex', () => {
  it('puts values in right-closed bins: (-inf, e1], (e1, e2], …, (ek, inf)', () => {
    const edges = [0, 1, 2]
    expect([-5, 0, 0.5, 1, 1.5, 2, 2.01].map((x) => binIndex(edges, x))).toEqual([0, 0, 1, 1, 2, 2, 3])
    expect(binIndex([], 42)).toBe(0)
  })
})

describe('quantileEdges', () => {
  it('drops duplicate edges, so a feature with few distinct values gets fewer bins, not empty ones', () => {
    // An integer feature with values 0, 1, 2: deciles fall on those values again and again.
    const values = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2].sort()
    const quantile = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!
    expect(quantileEdges(quantile, 10)).toEqual([0, 1, 2])
  })
})

describe('psi', () => {
  it('is 0 for identical distributions', () => {
    expect(psi([0.25, 0.25, 0.5], [25, 25, 50])).toBeCloseTo(0, 12)
  })

  it('treats an empty bin as epsilon: large but finite', () => {
    const value = psi([0.5, 0.5, 0], [40, 40, 20])
    expect(Number.isFinite(value)).toBe(true)
    expect(value).toBeCloseTo((0.2 - PSI_EPSILON) * Math.log(0.2 / PSI_EPSILON) + 2 * (0.4 - 0.5) * Math.log(0.4 / 0.5), 6)
  })

  it('is NaN with nothing observed', () => {
    expect(psi([0.5, 0.5], [0, 0])).toBeNaN()
  })
})

describe('PSI against a profiled reference (10 quantile bins)', () => {
  it('stays far below the threshold for fresh data from the reference distribution', async () => {
    const ref = await normalReference()
    expect(ref.bins).toHaveLength(9)
    expect(ref.fractions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9)
    const rand = seeded(99)
    const value = psiOf(ref, Array.from({ length: 2000 }, () => normal(rand)))!
    // Sampling noise alone: about (bins - 1) / n = 0.0045 here.
    expect(value).toBeLessThan(0.05)
  })

  it('rises above the threshold for a shift of one standard deviation, and for a doubled spread', async () => {
    const ref = await normalReference()
    const rand = seeded(99)
    expect(psiOf(ref, Array.from({ length: 2000 }, () => 1 + normal(rand)))!).toBeGreaterThan(THRESHOLD)
    expect(psiOf(ref, Array.from({ length: 2000 }, () => 2 * normal(rand)))!).toBeGreaterThan(THRESHOLD)
  })

  it('is moderate (0.1-0.25) for a shift of 0.4 standard deviations', async () => {
    const ref = await normalReference()
    const rand = seeded(99)
    const value = psiOf(ref, Array.from({ length: 5000 }, () => 0.4 + normal(rand)))!
    expect(value).toBeGreaterThan(0.1)
    expect(value).toBeLessThan(THRESHOLD)
  })

  it('is null below minCount values: too few for a meaningful score', async () => {
    const ref = await normalReference()
    const rand = seeded(1)
    expect(psiOf(ref, Array.from({ length: 99 }, () => 3 + normal(rand)))).toBeNull()
  })
})
