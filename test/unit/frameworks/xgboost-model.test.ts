import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { ServekitError } from '../../../src/errors.js'
import xgboost, { type LoadedXGBoost } from '../../../src/frameworks/xgboost.js'
import type { Artifact, PredictContext } from '../../../src/model/interface.js'
import { openArtifact } from '../../../src/store/artifact.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/xgboost/', import.meta.url))
const dirs: string[] = []
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

interface RefRow {
  kind: string
  features: (number | null)[]
  predict: number | number[]
  margin: number | number[]
}
const refRows = async (name: string): Promise<RefRow[]> =>
  (JSON.parse(await readFile(`${FIXTURES}${name}.rows.json`, 'utf8')) as { rows: RefRow[] }).rows

/** A version directory holding `files` (name in the artifact -> fixture name or JSON value). */
async function artifactWith(files: Record<string, string | object>): Promise<Artifact> {
  const dir = await mkdtemp(join(tmpdir(), 'servekit-xgb-'))
  dirs.push(dir)
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'string') await copyFile(`${FIXTURES}${content}`, join(dir, name))
    else await writeFile(join(dir, name), JSON.stringify(content))
  }
  return openArtifact(dir, 'churn', '1')
}

const load = async (artifact: Artifact, options: Record<string, unknown> = {}): Promise<LoadedXGBoost> =>
  xgboost.load(artifact, { options })
const ctx = (parameters: Record<string, unknown> = {}): PredictContext => ({ parameters, signal: new AbortController().signal })

async function errorOf(fn: () => unknown): Promise<ServekitError> {
  try {
    await fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ServekitError)
    return err as ServekitError
  }
  throw new Error('expected an error')
}

describe('xgboost model class', () => {
  it('loads model.json when it is an XGBoost model and predicts from an array with nulls', async () => {
    const model = await load(await artifactWith({ 'model.json': 'binary_logistic.json' }))
    for (const r of await refRows('binary_logistic')) {
      expect(await xgboost.predict(model, r.features, ctx())).toBeCloseTo(r.predict as number, 6)
    }
  })

  it('accepts features as an object keyed by the saved feature names, absent or null = missing', async () => {
    const model = await load(await artifactWith({ 'model.json': 'binary_logistic.json' }))
    const names = model.booster.featureNames ?? []
    for (const r of await refRows('binary_logistic')) {
      const record: Record<string, number | null> = {}
      r.features.forEach((v, i) => {
        if (v !== null) record[names[i] as string] = v
        else if (i % 2 === 0) record[names[i] as string] = null
      })
      expect(await xgboost.predict(model, record, ctx())).toBeCloseTo(r.predict as number, 6)
    }
  })

  it('returns the margin when parameters.output_margin is true', async () => {
    const model = await load(await artifactWith({ 'model.json': 'multi_softprob.json' }))
    const [row] = await refRows('multi_softprob')
    expect(await xgboost.predict(model, row?.features, ctx({ output_margin: true }))).toEqual(row?.margin)
    expect(await xgboost.predict(model, row?.features, ctx({ output_margin: false }))).toEqual(row?.predict)
  })

  it('rejects a non-boolean output_margin as invalid_request', async () => {
    const model = await load(await artifactWith({ 'model.json': 'multi_softprob.json' }))
    const err = await errorOf(() => xgboost.predict(model, [1, 2, 3, 4], ctx({ output_margin: 'yes' })))
    expect(err.code).toBe('invalid_request')
  })

  it('predicts a batch in input order with the same rules', async () => {
    const model = await load(await artifactWith({ 'model.json': 'multi_softmax.json' }))
    const rows = await refRows('multi_softmax')
    const out = await xgboost.predictBatch?.(model, rows.map((r) => r.features), ctx())
    expect(out).toEqual(rows.map((r) => r.predict))
    const err = await errorOf(() => xgboost.predictBatch?.(model, [rows[0]?.features, [1, 2]], ctx()))
    expect(err.code).toBe('invalid_request')
    expect(err.message).toMatch(/^features\[1\] must have 13 values/)
  })

  it('rejects bad features as invalid_request naming the feature', async () => {
    const model = await load(await artifactWith({ 'model.json': 'binary_logistic.json' }))
    const row = new Array<unknown>(30).fill(1)
    const cases: [unknown, RegExp][] = [
      [row.slice(1), /must have 30 values/],
      [row.map((v, i) => (i === 2 ? 'big' : v)), /features\[2\] \(feature "mean_perimeter"\) must be a number or null, got string "big"/],
      [{ mean_radius: 1, mean_colour: 2 }, /unknown feature "mean_colour"/],
      [{ mean_radius: [1] }, /features\.mean_radius \(feature "mean_radius"\) must be a number or null, got array/],
      ['1,2,3', /must be an array of 30 numbers/],
    ]
    for (const [features, message] of cases) {
      const err = await errorOf(() => xgboost.predict(model, features, ctx()))
      expect(err.code).toBe('invalid_request')
      expect(err.message).toMatch(message)
    }
  })

  it('refuses object features when the model has no feature names and none are configured', async () => {
    const model = await load(await artifactWith({ 'model.json': 'multi_softprob.json' }))
    const err = await errorOf(() => xgboost.predict(model, { sepal_length: 5 }, ctx()))
    expect(err.code).toBe('invalid_request')
    expect(err.message).toMatch(/no feature names/)
  })

  it('takes the feature order from options.feature_names or feature_names in model.json', async () => {
    const names = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']
    const [row] = await refRows('multi_softprob')
    const record = Object.fromEntries(names.map((n, i) => [n, row?.features[i] ?? null]))
    const viaOptions = await load(await artifactWith({ 'iris.json': 'multi_softprob.json' }), { file: 'iris.json', feature_names: names })
    expect(await xgboost.predict(viaOptions, record, ctx())).toEqual(row?.predict)
    const viaManifest = await load(await artifactWith({ 'model.json': { framework: 'xgboost', file: 'iris.ubj', feature_names: names }, 'iris.ubj': 'multi_softprob.ubj' }))
    expect(await xgboost.predict(viaManifest, record, ctx())).toEqual(row?.predict)
  })

  it('fails to load when configured feature names contradict the saved ones or have the wrong count', async () => {
    const artifact = await artifactWith({ 'model.json': 'binary_logistic.json' })
    const swapped = await errorOf(() => load(artifact, { feature_names: Array.from({ length: 30 }, (_, i) => `f${i}`) }))
    expect(swapped.code).toBe('model_load_failed')
    expect(swapped.message).toMatch(/options\.feature_names does not match the feature names saved/)
    const short = await errorOf(() => load(artifact, { feature_names: ['a'] }))
    expect(short.message).toMatch(/has 1 names, but .*model\.json has 30 features/)
  })

  it('skips a servekit manifest named model.json and falls back to model.ubj', async () => {
    const artifact = await artifactWith({ 'model.json': { framework: 'xgboost' }, 'model.ubj': 'binary_logistic.ubj' })
    const model = await load(artifact)
    expect(model.booster.file).toBe(artifact.path('model.ubj'))
  })

  it('fails to load with model_load_failed naming the directory when there is no model file', async () => {
    const artifact = await artifactWith({ 'model.json': { framework: 'xgboost' } })
    const err = await errorOf(() => load(artifact))
    expect(err.code).toBe('model_load_failed')
    expect(err.message).toContain(artifact.dir)
    const broken = await artifactWith({ 'm.json': 'binary_logistic.rows.json' })
    const bad = await errorOf(() => load(broken, { file: 'm.json' }))
    expect(bad.code).toBe('model_load_failed')
    expect(bad.message).toContain(broken.path('m.json'))
  })

  it('reads testdata.json as self-test cases, or none when it is absent', async () => {
    const rows = await refRows('count_poisson')
    const cases = rows.slice(0, 3).map((r) => ({ features: r.features, expected: r.predict }))
    const artifact = await artifactWith({ 'model.json': 'count_poisson.json', 'testdata.json': cases })
    const model = await load(artifact)
    const testData = xgboost.testData as (a: Artifact, m: LoadedXGBoost) => Promise<unknown[]>
    expect(await testData(artifact, model)).toEqual(cases)
    expect(await testData(await artifactWith({ 'model.json': 'count_poisson.json' }), model)).toEqual([])
    expect(xgboost.tolerance).toEqual({ absolute: 1e-5, relative: 1e-5 })
    const bad = await artifactWith({ 'model.json': 'count_poisson.json', 'testdata.json': [{ features: [] }] })
    expect((await errorOf(() => testData(bad, model))).code).toBe('model_load_failed')
  })
})
