import { describe, expect, it } from 'vitest'
import { mergeStats, numericCount, StreamingStats } from '../../../src/observe/monitoring/streaming-stats.js'
import { TDigest } from '../../../src/observe/monitoring/t-digest.js'
import { exponential, normal, seeded } from '../../fixtures/monitoring/random.js'

const QS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]
/** The documented accuracy: every estimate within 1% of rank of the exact quantile. */
const RANK_ERROR = 0.01

/** How far (in rank, 0-1) `estimate` is from quantile `q` of the sorted data; 0 when it lies among the values at q. */
function rankError(sorted: readonly number[], q: number, estimate: number): number {
  const n = sorted.length
  let below = 0
  while (below < n && sorted[below]! < estimate) below++
  let upTo = below
  while (upTo < n && sorted[upTo]! <= estimate) upTo++
  const target = q * n
  return target < below ? (below - target) / n : target > upTo ? (target - upTo) / n : 0
}

function worstRankError(digest: TDigest, values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return Math.max(...QS.map((q) => rankError(sorted, q, digest.quantile(q))))
}

const distributions: Array<[string, (rand: () => number) => number]> = [
  ['uniform', (r) => r()],
  ['normal', (r) => normal(r)],
  ['exponential (skewed)', (r) => exponential(r)],
  ['log-normal (heavy tail)', (r) => Math.exp(2 * normal(r))],
  ['integers 0-5 (ties)', (r) => Math.floor(r() * 6)],
]

describe('TDigest', () => {
  for (const [name, draw] of distributions) {
    it(`estimates quantiles of a ${name} stream within ${RANK_ERROR * 100}% rank error`, () => {
      const rand = seeded(7)
      const values = Array.from({ length: 20_000 }, () => draw(rand))
      const digest = new TDigest()
      for (const x of values) digest.add(x)
      expect(digest.count).toBe(values.length)
      expect(worstRankError(digest, values)).toBeLessThanOrEqual(RANK_ERROR)
      expect(digest.quantile(0)).toBe(Math.min(...values))
      expect(digest.quantile(1)).toBe(Math.max(...values))
    })
  }

  it('keeps memory bounded: ~compression centroids however many values', () => {
    const rand = seeded(1)
    const digest = new TDigest(100)
    for (let i = 0; i < 200_000; i++) digest.add(normal(rand))
    expect(digest.toJSON().means.length).toBeLessThanOrEqual(100)
  })

  it('merging the sketches of two streams matches one sketch over both, within the rank error', () => {
    const rand = seeded(3)
    // Two workers seeing different halves of the traffic (different distributions, so the merge matters).
    const a = Array.from({ length: 15_000 }, () => normal(rand))
    const b = Array.from({ length: 5_000 }, () => 3 + normal(rand))
    const da = new TDigest()
    const db = new TDigest()
    const both = new TDigest()
    for (const x of a) (da.add(x), both.add(x))
    for (const x of b) (db.add(x), both.add(x))
    // Through JSON, as over the cluster IPC channel.
    const merged = TDigest.from(JSON.parse(JSON.stringify(da.toJSON())))
    merged.absorb(JSON.parse(JSON.stringify(db.toJSON())))
    expect(merged.count).toBe(20_000)
    const all = [...a, ...b]
    expect(worstRankError(merged, all)).toBeLessThanOrEqual(RANK_ERROR)
    const sorted = [...all].sort((x, y) => x - y)
    for (const q of QS) expect(rankError(sorted, q, merged.quantile(q))).toBeLessThanOrEqual(RANK_ERROR)
    expect(Math.abs(merged.quantile(0.5) - both.quantile(0.5))).toBeLessThan(0.05)
  })

  it('answers NaN when empty, and the value itself for one value', () => {
    const d = new TDigest()
    expect(d.quantile(0.5)).toBeNaN()
    d.add(4.2)
    expect(d.quantile(0.01)).toBe(4.2)
    expect(d.quantile(0.99)).toBe(4.2)
  })
})

describe('StreamingStats', () => {
  it('counts, mean and std of a stream, with values missing from some predictions', () => {
    const s = new StreamingStats(undefined, 0)
    for (const x of [2, 4, 4, 4, 5, 5, 7, 9]) s.add(x)
    // 10 predictions, two without the feature.
    const snap = s.snapshot(10, false)
    expect(snap).toMatchObject({ count: 10, missing: 2, mean: 5, min: 2, max: 9 })
    expect(Math.sqrt(snap.m2 / (numericCount(snap) - 1))).toBeCloseTo(2.138, 3)
    expect(snap.digest).toBeNull()
  })

  it('merges two workers into exactly the statistics of one stream (counts, mean, variance) and close quantiles', () => {
    const rand = seeded(11)
    const one = new StreamingStats(undefined, 0)
    const w1 = new StreamingStats(undefined, 0)
    const w2 = new StreamingStats(undefined, 0)
    for (let i = 0; i < 3000; i++) {
      const x = i % 3 === 0 ? 10 + normal(rand) : normal(rand)
      one.add(x)
      ;(i % 2 === 0 ? w1 : w2).add(x)
    }
    const merged = mergeStats(w1.snapshot(1500, true), w2.snapshot(1500, true))
    const single = one.snapshot(3000, true)
    expect(merged.count).toBe(single.count)
    expect(merged.missing).toBe(0)
    expect(merged.mean).toBeCloseTo(single.mean, 9)
    expect(merged.m2).toBeCloseTo(single.m2, 6)
    expect(merged.min).toBe(single.min)
    expect(merged.max).toBe(single.max)
    const qm = TDigest.from(merged.digest!)
    const qs = TDigest.from(single.digest!)
    for (const q of [0.1, 0.5, 0.9]) expect(Math.abs(qm.quantile(q) - qs.quantile(q))).toBeLessThan(0.1)
  })
})
