import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isServekitError } from '../../../src/errors.js'
import lightgbm from '../../../src/frameworks/lightgbm.js'
import { loadLightGBMModel } from '../../../src/frameworks/lightgbm/model.js'
import { compareOutputs } from '../../../src/model/compare.js'
import type { PredictContext } from '../../../src/model/interface.js'
import { openArtifact } from '../../../src/store/artifact.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/lightgbm/', import.meta.url))

interface Rows {
  objective: string
  num_trees: number
  feature_names: string[]
  rows: (number | null)[][]
  row_tags: string[]
  expected: (number | number[])[]
  expected_raw: (number | number[])[]
  expected_leaf_index: number[][]
}

const FIXTURE_NAMES = ['breast_cancer_binary', 'diabetes_regression', 'diabetes_l1', 'diabetes_huber', 'iris_multiclass', 'synthetic_cat_binary']

const readFixture = (name: string): { text: string; rows: Rows } => ({
  text: readFileSync(join(FIXTURES, `${name}.model.txt`), 'utf8'),
  rows: JSON.parse(readFileSync(join(FIXTURES, `${name}.rows.json`), 'utf8')) as Rows,
})

const toRow = (r: (number | null)[]): number[] => r.map((v) => (v === null ? Number.NaN : v))
const flat = (v: number | number[]): number[] => (Array.isArray(v) ? v : [v])

/**
 * Tolerance 1e-12 (absolute, and relative to max(1, |want|) for raw scores): the fixtures hold the exact
 * doubles LightGBM printed with 17 digits. Raw scores are sums of the same doubles in the same order, so
 * they come out bit-exact; transformed outputs go through Math.exp, which may differ from glibc's exp by
 * an ulp (~1e-16). 1e-12 leaves room for that and nothing else: any routing mistake moves a score by a
 * whole leaf value (>= 1e-6 in these models).
 */
const TOL = 1e-12

describe('LightGBM fixtures from the real CLI', () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: every row matches predict, raw and leaf index`, () => {
      const { text, rows } = readFixture(name)
      const model = loadLightGBMModel(text, `${name}.model.txt`)
      expect(model.numFeatures).toBe(rows.feature_names.length)
      expect(model.featureNames).toEqual(rows.feature_names)
      expect(model.numTrees).toBe(rows.num_trees)
      expect(model.objective.name).toBe(rows.objective.split(' ')[0])
      let maxError = 0
      rows.rows.forEach((r, i) => {
        const row = toRow(r)
        const label = `row ${i} (${rows.row_tags[i]})`
        const raw = flat(model.predict(row, true))
        const wantRaw = flat(rows.expected_raw[i] ?? [])
        expect(raw.length, label).toBe(wantRaw.length)
        raw.forEach((got, k) => {
          const want = wantRaw[k] ?? Number.NaN
          const err = Math.abs(got - want)
          maxError = Math.max(maxError, err)
          expect(err, `${label} raw[${k}]: ${got} vs ${want}`).toBeLessThanOrEqual(TOL * Math.max(1, Math.abs(want)))
        })
        const normal = flat(model.predict(row, false))
        const wantNormal = flat(rows.expected[i] ?? [])
        expect(normal.length, label).toBe(wantNormal.length)
        normal.forEach((got, k) => {
          const err = Math.abs(got - (wantNormal[k] ?? Number.NaN))
          maxError = Math.max(maxError, err)
          expect(err, `${label} normal[${k}]: ${got} vs ${wantNormal[k]}`).toBeLessThanOrEqual(TOL)
        })
        expect(model.predictLeafIndex(row), label).toEqual(rows.expected_leaf_index[i])
      })
      expect(maxError).toBeLessThanOrEqual(TOL)
    })
  }

  it('parses CRLF files the same way', () => {
    const { text, rows } = readFixture('synthetic_cat_binary')
    const lf = loadLightGBMModel(text, 'lf.txt')
    const crlf = loadLightGBMModel(text.replace(/\n/g, '\r\n'), 'crlf.txt')
    for (const r of rows.rows) expect(crlf.predict(toRow(r), true)).toBe(lf.predict(toRow(r), true))
  })

  it('rejects rows of the wrong length in the evaluator', () => {
    const model = loadLightGBMModel(readFixture('iris_multiclass').text, 'iris.txt')
    expect(() => model.predict([1, 2, 3], false)).toThrow(/expected 4 features, got 3/)
  })
})

describe('lightgbm model class', () => {
  let dir: string
  const context = (parameters: Record<string, unknown> = {}): PredictContext => ({ parameters, signal: new AbortController().signal })
  const iris = readFixture('iris_multiclass')
  const cat = readFixture('synthetic_cat_binary')

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'servekit-lightgbm-'))
    await writeFile(join(dir, 'model.txt'), cat.text)
    const cases = cat.rows.rows.slice(0, 5).map((r, i) => ({ features: r, expected: cat.rows.expected[i] }))
    await writeFile(join(dir, 'testdata.json'), JSON.stringify(cases))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('predicts from arrays and records, with null as missing', async () => {
    const artifact = await openArtifact(dir, 'cat', '1')
    const model = await lightgbm.load(artifact, { options: {} })
    cat.rows.rows.forEach((r, i) => {
      const record = Object.fromEntries(cat.rows.feature_names.map((n, j) => [n, r[j]]))
      // Absent keys are missing too, like null.
      for (const [k, v] of Object.entries(record)) if (v === null) delete record[k]
      const byArray = lightgbm.predict(model, r, context())
      expect(lightgbm.predict(model, record, context())).toBe(byArray)
      expect(compareOutputs(cat.rows.expected[i], byArray, lightgbm.tolerance).equal, `row ${i}`).toBe(true)
    })
  })

  it('honours raw_score and predicts batches in order', async () => {
    const model = await lightgbm.load(await openArtifact(dir, 'cat', '1'), { options: {} })
    const batch = cat.rows.rows.slice(0, 10)
    const raw = await lightgbm.predictBatch!(model, batch, context({ raw_score: true }))
    expect(raw).toEqual(cat.rows.expected_raw.slice(0, 10))
    const normal = await lightgbm.predictBatch!(model, batch, context({ raw_score: false }))
    expect(compareOutputs(cat.rows.expected.slice(0, 10), normal, lightgbm.tolerance).equal).toBe(true)
    expect(() => lightgbm.predict(model, batch[0], context({ raw_score: 'yes' }))).toThrow(/raw_score must be a boolean/)
  })

  it('rejects bad features with invalid_request naming the feature', async () => {
    const model = await lightgbm.load(await openArtifact(dir, 'cat', '1'), { options: {} })
    const bad = (features: unknown, pattern: RegExp): void => {
      try {
        lightgbm.predict(model, features, context())
        expect.unreachable('should have thrown')
      } catch (err) {
        expect(isServekitError(err) && err.code).toBe('invalid_request')
        expect((err as Error).message).toMatch(pattern)
      }
    }
    bad([1, 2, 3], /must have 7 values/)
    bad([1, 2, 'x', 0, 0, 0, 0], /features\[2\] \(feature "num_0"\) must be a number or null, got string/)
    bad({ cat8: 1, colour: 2 }, /unknown feature "colour"/)
    bad({ cat8: '1' }, /features\.cat8 \(feature "cat8"\) must be a number/)
    bad({ num_4: [1] }, /feature "num_4".*got array/)
    bad(42, /must be an array of 7 numbers/)
    bad(null, /must be an array of 7 numbers/)
    await expect(async () => lightgbm.predictBatch!(model, [[0, 0, 0, 0, 0, 0, 0], { nope: 1 }], context())).rejects.toThrow(/features\[1\]: unknown feature "nope"/)
  })

  it('reads testdata.json as self-test cases, or none', async () => {
    const artifact = await openArtifact(dir, 'cat', '1')
    const model = await lightgbm.load(artifact, { options: {} })
    const testData = lightgbm.testData as Exclude<typeof lightgbm.testData, readonly unknown[] | undefined>
    const cases = await testData(artifact, model)
    expect(cases).toHaveLength(5)
    for (const c of cases) expect(compareOutputs(c.expected, lightgbm.predict(model, c.features, context()), lightgbm.tolerance).equal).toBe(true)

    const empty = await mkdtemp(join(tmpdir(), 'servekit-lightgbm-'))
    try {
      await writeFile(join(empty, 'model.txt'), cat.text)
      expect(await testData(await openArtifact(empty, 'cat', '2'), model)).toEqual([])
      await writeFile(join(empty, 'testdata.json'), JSON.stringify([{ features: [1] }]))
      await expect(testData(await openArtifact(empty, 'cat', '2'), model)).rejects.toThrow(/entry 0 needs "features" and "expected"/)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })

  it('finds the model file from options.file, then model.json "file"', async () => {
    const other = await mkdtemp(join(tmpdir(), 'servekit-lightgbm-'))
    try {
      await writeFile(join(other, 'iris.txt'), iris.text)
      await writeFile(join(other, 'model.json'), JSON.stringify({ framework: 'lightgbm', file: 'iris.txt' }))
      const model = await lightgbm.load(await openArtifact(other, 'iris', '1'), { options: {} })
      expect(lightgbm.predict(model, iris.rows.rows[0], context())).toEqual(iris.rows.expected[0])
      await writeFile(join(other, 'copy.txt'), iris.text)
      const viaOptions = await lightgbm.load(await openArtifact(other, 'iris', '1'), { options: { file: 'copy.txt' } })
      expect(viaOptions.booster.numClass).toBe(3)
      await expect(lightgbm.load(await openArtifact(other, 'iris', '1'), { options: { file: 'missing.txt' } })).rejects.toMatchObject({ code: 'model_load_failed' })
      await expect(lightgbm.load(await openArtifact(other, 'iris', '1'), { options: { file: 3 } })).rejects.toThrow(/options.file must be a non-empty string/)
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })

  it('reports a malformed model.txt as model_load_failed with its path', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'servekit-lightgbm-'))
    try {
      await writeFile(join(broken, 'model.txt'), cat.text.slice(0, 5000))
      const artifact = await openArtifact(broken, 'cat', '1')
      const err = await Promise.resolve()
        .then(() => lightgbm.load(artifact, { options: {} }))
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'model_load_failed' })
      expect((err as Error).message).toContain(join(broken, 'model.txt'))
    } finally {
      await rm(broken, { recursive: true, force: true })
    }
  })
})
