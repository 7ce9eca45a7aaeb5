import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import onnx, { type LoadedOnnx } from '../../../src/frameworks/onnx.js'
import type { Artifact, Tolerance } from '../../../src/model/interface.js'
import { ctx, expectClose, FIXTURES, makeArtifact, readRows, removeArtifacts, type ArtifactSetup } from '../../fixtures/onnx/helpers.js'

// torch and onnxruntime run the same float32 graph with different kernels and summation order;
// observed differences are below 1e-6, so the class default (1e-5 + 1e-4 * |want|) has headroom.
const FLOAT32: Tolerance = { absolute: 1e-5, relative: 1e-4 }
// float64 throughout; the graph folds sklearn's scaler into the weights, which moves the last
// few bits (observed 2e-15 absolute).
const FLOAT64: Tolerance = { absolute: 1e-12, relative: 1e-10 }

const loaded: LoadedOnnx[] = []

async function load(setup: ArtifactSetup, options: Record<string, unknown> = {}): Promise<LoadedOnnx> {
  const model = await onnx.load(await makeArtifact(setup), { options })
  loaded.push(model)
  return model
}

afterEach(async () => {
  await Promise.all(loaded.splice(0).map((m) => onnx.unload?.(m)))
})
afterAll(removeArtifacts)

const predictBatch = (model: LoadedOnnx, features: unknown[]) => {
  if (onnx.predictBatch === undefined) throw new Error('the onnx class has no predictBatch')
  return onnx.predictBatch(model, features, ctx)
}

describe('reference outputs', () => {
  it('reproduces torch on the MLP (float32, two outputs as an object)', async () => {
    const model = await load({ model: 'mlp.onnx' })
    for (const row of readRows('mlp').rows) expectClose(await onnx.predict(model, row.features, ctx), row.expected, FLOAT32)
  })

  it("reproduces sklearn's predict_proba on the float64 logistic regression (one output, returned bare)", async () => {
    const model = await load({ model: 'logreg.onnx' })
    for (const row of readRows('logreg').rows) expectClose(await onnx.predict(model, row.features, ctx), row.expected['probability'], FLOAT64)
  })

  it('round-trips int64, int32, bool, string, float32 and float64 exactly', async () => {
    const model = await load({ model: 'types.onnx' })
    for (const row of readRows('types').rows) expect(await onnx.predict(model, row.features, ctx)).toEqual(row.expected)
  })

  it('finds the file named by model.json "file"', async () => {
    const model = await load({ manifest: { file: 'net.onnx' }, files: { 'net.onnx': readFileSync(join(FIXTURES, 'mlp.onnx')) } })
    const [row] = readRows('mlp').rows
    expectClose(await onnx.predict(model, row?.features, ctx), row?.expected, FLOAT32)
  })
})

describe('predictBatch', () => {
  it.each(['mlp', 'logreg', 'types'])('gives the singles\' outputs for %s in one session.run', async (name) => {
    const model = await load({ model: `${name}.onnx` })
    const rows = readRows(name).rows
    const singles = []
    for (const row of rows) singles.push(await onnx.predict(model, row.features, ctx))
    const run = vi.spyOn(model.session, 'run')
    const batch = await predictBatch(model, rows.map((r) => r.features))
    expect(run).toHaveBeenCalledTimes(1)
    // MLAS may pick another GEMM path for a larger batch; bit-identical in practice, checked with 1e-6.
    expectClose(batch, singles, { absolute: 1e-6 })
  })

  it('runs one example at a time when the model has a fixed batch of 1', async () => {
    const model = await load({ model: 'mlp_fixed_batch.onnx' })
    expect(model.signature.stackable).toBe(false)
    const rows = readRows('mlp').rows.slice(0, 5)
    const run = vi.spyOn(model.session, 'run')
    const batch = await predictBatch(model, rows.map((r) => r.features))
    expect(run).toHaveBeenCalledTimes(5)
    expectClose(batch, rows.map((r) => r.expected), FLOAT32)
  })

  it('returns [] for an empty batch', async () => {
    const model = await load({ model: 'mlp.onnx' })
    expect(await predictBatch(model, [])).toEqual([])
  })
})

describe('features', () => {
  const { feature_names: names = [], rows } = readRows('logreg')
  const record = (values: unknown): Record<string, unknown> => Object.fromEntries(names.map((n, i) => [n, (values as number[])[i]]))

  it('maps a flat record through model.json feature_order', async () => {
    const model = await load({ model: 'logreg.onnx', manifest: { feature_order: names } })
    for (const row of rows.slice(0, 4)) {
      const named = await onnx.predict(model, row.features, ctx)
      expect(await onnx.predict(model, record(row.features['features']), ctx)).toEqual(named)
    }
  })

  it('takes options.feature_order over model.json, and flat records in a batch', async () => {
    const reversed = [...names].reverse()
    const model = await load({ model: 'mlp.onnx', manifest: { feature_order: reversed } }, { feature_order: names })
    const mlp = readRows('mlp').rows.slice(0, 3)
    const batch = await predictBatch(model, mlp.map((r) => record(r.features['input'])))
    expectClose(batch, mlp.map((r) => r.expected), FLOAT32)
  })

  it('accepts a bare array for a one-input model', async () => {
    const model = await load({ model: 'mlp.onnx' })
    const [row] = readRows('mlp').rows
    expectClose(await onnx.predict(model, row?.features['input'], ctx), row?.expected, FLOAT32)
  })
})

describe('options', () => {
  it('options.output fetches one output and returns it bare', async () => {
    const model = await load({ model: 'mlp.onnx' }, { output: 'probabilities' })
    const [row] = readRows('mlp').rows
    expectClose(await onnx.predict(model, row?.features, ctx), row?.expected['probabilities'], FLOAT32)
  })

  it('passes session options through to onnxruntime', async () => {
    const options = { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'disabled', executionMode: 'parallel' }
    const model = await load({ model: 'mlp.onnx' }, options)
    for (const row of readRows('mlp').rows.slice(0, 3)) expectClose(await onnx.predict(model, row.features, ctx), row.expected, FLOAT32)
  })

  it('fetches a tensor output beside a ZipMap when options.output names it', async () => {
    const model = await load({ model: 'zipmap.onnx' }, { output: 'probabilities' })
    expectClose(await onnx.predict(model, { scores: [0, Math.log(3)] }, ctx), [0.25, 0.75], FLOAT32)
  })
})

describe('testData', () => {
  const testData = async (artifact: Artifact, model: LoadedOnnx) => {
    if (typeof onnx.testData !== 'function') throw new Error('testData is not a function')
    return onnx.testData(artifact, model)
  }

  it("reads testdata.json from the artifact and the cases pass with the class's tolerance", async () => {
    const artifact = await makeArtifact({ model: 'mlp.onnx', files: { 'testdata.json': readFileSync(join(FIXTURES, 'testdata.json')) } })
    const model = await onnx.load(artifact, { options: {} })
    loaded.push(model)
    const cases = await testData(artifact, model)
    expect(cases).toHaveLength(3)
    for (const c of cases) expectClose(await onnx.predict(model, c.features, ctx), c.expected, onnx.tolerance ?? {})
  })

  it('is empty without testdata.json', async () => {
    const artifact = await makeArtifact({ model: 'mlp.onnx' })
    const model = await onnx.load(artifact, { options: {} })
    loaded.push(model)
    expect(await testData(artifact, model)).toEqual([])
  })
})

describe('lazy loading', () => {
  it('does not load onnxruntime-node until load() runs', async () => {
    const artifact = await makeArtifact({ model: 'mlp.onnx' })
    const root = fileURLToPath(new URL('../../../', import.meta.url))
    // A fresh process: vitest's own process may have loaded onnxruntime-node in other tests.
    // onnxruntime-node is CommonJS, so every file of it that loads lands in require.cache.
    const script = `
      import { createRequire } from 'node:module'
      const cache = createRequire(process.cwd() + '/').cache
      const ort = () => Object.keys(cache).filter((f) => f.includes('/node_modules/onnxruntime-node/')).length
      const { default: onnx } = await import('./src/frameworks/onnx.ts')
      const { openArtifact } = await import('./src/store/artifact.ts')
      const afterImport = ort()
      const model = await onnx.load(await openArtifact(${JSON.stringify(artifact.dir)}, 'm', '1'), { options: {} })
      const afterLoad = ort()
      await onnx.unload(model)
      console.log(JSON.stringify({ afterImport, afterLoad }))
    `
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module'], { cwd: root, input: script, encoding: 'utf8' })
    const { afterImport, afterLoad } = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>
    expect(afterImport).toBe(0)
    expect(afterLoad).toBeGreaterThan(0)
  }, 30_000)
})
