import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadXGBoostModel, type XGBoostModel } from '../../../src/frameworks/xgboost/evaluator.js'

/**
 * Every fixture under test/fixtures/xgboost was trained by XGBoost 1.7.4 (generate.py), which also
 * recorded its own `predict` and `predict(output_margin=True)` for held-out rows, rows with missing
 * cells, an all-missing row and rows placed exactly on (and one float32 step under) split thresholds.
 */

const FIXTURES = fileURLToPath(new URL('../../fixtures/xgboost', import.meta.url))

interface RefRow {
  kind: string
  features: (number | null)[]
  predict: number | number[]
  margin: number | number[]
}
interface RefFile {
  xgboost_version: string
  model: string
  objective: string
  booster: string
  num_feature: number
  feature_names: string[] | null
  rows: RefRow[]
}

const refs: RefFile[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.rows.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as RefFile)

const load = (file: string): XGBoostModel => loadXGBoostModel(readFileSync(join(FIXTURES, file)), file)
const toRow = (features: (number | null)[]): number[] => features.map((v) => (v === null ? Number.NaN : v))
const flat = (v: number | number[]): number[] => (Array.isArray(v) ? v : [v])

/**
 * XGBoost works in float32 (features, thresholds, leaves, sums); the evaluator repeats those steps,
 * so only expf/logf may differ by an ulp: 1e-5 relative (absolute below 1) is ~100 float32 ulps.
 */
function expectClose(got: number | number[], want: number | number[], what: string): void {
  const g = flat(got)
  const w = flat(want)
  expect(g.length, what).toBe(w.length)
  w.forEach((ref, i) => {
    const err = Math.abs((g[i] as number) - ref)
    expect(err, `${what}[${i}]: got ${g[i]}, XGBoost ${ref}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref)))
  })
}

describe('XGBoost evaluator against XGBoost 1.7.4 reference predictions', () => {
  it('has a fixture for every required objective', () => {
    const objectives = new Set(refs.map((r) => r.objective))
    for (const o of ['binary:logistic', 'reg:squarederror', 'reg:logistic', 'multi:softprob', 'multi:softmax', 'count:poisson', 'rank:pairwise']) {
      expect(objectives, o).toContain(o)
    }
  })

  for (const ref of refs) {
    describe(`${ref.model} (${ref.objective}, ${ref.booster})`, () => {
      const model = load(ref.model)

      it('reports the objective, feature count and names saved in the file', () => {
        expect(model.objective).toBe(ref.objective)
        expect(model.booster).toBe(ref.booster)
        expect(model.numFeatures).toBe(ref.num_feature)
        expect(model.featureNames ?? null).toEqual(ref.feature_names)
        expect(model.version).toBe(ref.xgboost_version)
      })

      it('reproduces predict within float32 tolerance on every row', () => {
        ref.rows.forEach((r, i) => expectClose(model.predict(toRow(r.features), false), r.predict, `row ${i} (${r.kind})`))
      })

      it('reproduces output_margin within float32 tolerance on every row', () => {
        ref.rows.forEach((r, i) => expectClose(model.predict(toRow(r.features), true), r.margin, `row ${i} (${r.kind}) margin`))
      })

      it('matches XGBoost margins bit for bit (float32 sums in tree order)', () => {
        ref.rows.forEach((r, i) => expect(flat(model.predict(toRow(r.features), true)), `row ${i} (${r.kind})`).toEqual(flat(r.margin)))
      })
    })
  }
})

describe('XGBoost evaluator semantics', () => {
  const logistic = load('binary_logistic.json')
  const rows = refs.find((r) => r.model === 'binary_logistic.json')?.rows ?? []

  it('follows default directions for missing cells and for an all-missing row', () => {
    const missing = rows.filter((r) => r.features.includes(null))
    expect(missing.some((r) => r.kind === 'all_missing')).toBe(true)
    expect(missing.length).toBeGreaterThan(4)
    for (const r of missing) expectClose(logistic.predict(toRow(r.features), false), r.predict, r.kind)
  })

  it('sends a value equal to a threshold right, and a double that rounds to it in float32 right too', () => {
    const kinds = ['on_threshold', 'float32_below_threshold', 'double_below_rounds_to_threshold']
    for (const ref of refs.filter((r) => r.booster !== 'gblinear')) {
      const model = load(ref.model)
      for (const r of ref.rows.filter((row) => kinds.includes(row.kind))) {
        expect(flat(model.predict(toRow(r.features), true)), `${ref.model} ${r.kind}`).toEqual(flat(r.margin))
      }
    }
    const on = rows.find((r) => r.kind === 'on_threshold')
    const below = rows.find((r) => r.kind === 'float32_below_threshold')
    expect(on && below && on.margin !== below.margin).toBe(true)
  })

  it('treats null and absent trailing features as missing', () => {
    const all = logistic.predict([], true)
    expect(logistic.predict(new Array(30).fill(Number.NaN), true)).toBe(all)
    const row = toRow(rows[0]?.features ?? [])
    const cut = row.slice(0, 10)
    expect(logistic.predict(cut, true)).toBe(logistic.predict([...cut, ...new Array(20).fill(Number.NaN)], true))
  })

  it('returns a class index for multi:softmax and one probability per class for multi:softprob', () => {
    const softmax = load('multi_softmax.json')
    const softprob = load('multi_softprob.json')
    expect(softmax.numClass).toBe(3)
    const cls = softmax.predict(new Array(13).fill(1), false)
    expect([0, 1, 2]).toContain(cls)
    expect(softmax.predict(new Array(13).fill(1), true)).toHaveLength(3)
    const probs = softprob.predict([5, 3, 1.5, 0.2], false) as number[]
    expect(probs).toHaveLength(3)
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6)
  })

  it('returns the same predictions from UBJSON as from JSON', () => {
    for (const name of ['binary_logistic', 'multi_softprob']) {
      const json = load(`${name}.json`)
      const ubj = load(`${name}.ubj`)
      expect(ubj.featureNames).toEqual(json.featureNames)
      expect(ubj.numOutputs).toBe(json.numOutputs)
      for (const r of refs.find((x) => x.model === `${name}.json`)?.rows ?? []) {
        for (const margin of [false, true]) {
          expect(ubj.predict(toRow(r.features), margin)).toEqual(json.predict(toRow(r.features), margin))
        }
      }
    }
  })

  it('does not keep state between calls', () => {
    const a = toRow(rows[0]?.features ?? [])
    const first = logistic.predict(a, false)
    logistic.predict(toRow(rows[1]?.features ?? []), false)
    expect(logistic.predict(a, false)).toBe(first)
  })
})
