import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ServekitError } from '../../../src/errors.js'
import onnx, { type LoadedOnnx } from '../../../src/frameworks/onnx.js'
import { ctx, FIXTURES, makeArtifact, readRows, removeArtifacts, type ArtifactSetup } from '../../fixtures/onnx/helpers.js'

const loaded: LoadedOnnx[] = []

async function load(setup: ArtifactSetup, options: Record<string, unknown> = {}): Promise<LoadedOnnx> {
  const model = await onnx.load(await makeArtifact(setup), { options })
  loaded.push(model)
  return model
}

/** The ServekitError `promise` rejects with, after checking its code. */
async function rejection(promise: unknown, code: string): Promise<ServekitError> {
  const err = await Promise.resolve(promise).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ServekitError)
  expect((err as ServekitError).code, (err as Error).message).toBe(code)
  return err as ServekitError
}

const predict = (model: LoadedOnnx, features: unknown) => rejection((async () => onnx.predict(model, features, ctx))(), 'invalid_request')

afterEach(async () => {
  await Promise.all(loaded.splice(0).map((m) => onnx.unload?.(m)))
})
afterAll(removeArtifacts)

describe('invalid_request', () => {
  const mlpRow = readRows('mlp').rows[0]?.features['input'] as number[]
  const typesRow = readRows('types').rows[1]?.features as Record<string, unknown>
  let mlp: LoadedOnnx
  let types: LoadedOnnx
  beforeAll(async () => {
    mlp = await onnx.load(await makeArtifact({ model: 'mlp.onnx' }), { options: {} })
    types = await onnx.load(await makeArtifact({ model: 'types.onnx' }), { options: {} })
  })
  afterAll(async () => {
    await onnx.unload?.(mlp)
    await onnx.unload?.(types)
  })

  it('names the input, the expected and the received shape', async () => {
    const err = await predict(mlp, { input: mlpRow.slice(1) })
    expect(err.message).toBe('input "input": expected shape [30] per example (servekit adds the batch dim), got [29]')
    expect(err.details).toMatchObject({ field: 'features.input', input: 'input', got: [29] })
    // A batch dim sent by the client is one dim too many.
    expect((await predict(mlp, { input: [mlpRow] })).message).toContain('expected shape [30] per example (servekit adds the batch dim), got [1, 30]')
    expect((await predict(types, { ...typesRow, mask: [true, false, true] })).message).toContain('input "mask": expected shape [2]')
  })

  it('rejects ragged arrays', async () => {
    expect((await predict(types, { ...typesRow, ids: [[1, 2], [3]] })).message).toContain('input "ids": nested arrays must be rectangular')
  })

  it('rejects values of the wrong type, naming the element', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...typesRow, score: [1, '2'] }, 'input "score" element 1: expected a number (float32), got "2"'],
      [{ ...typesRow, score: [1, null] }, 'input "score" element 1: expected a number (float32), got null'],
      [{ ...typesRow, ids: [1, 2.5, 3] }, 'input "ids" element 1: expected an integer (int64)'],
      [{ ...typesRow, ids: [1, 2 ** 53, 3] }, 'input "ids" element 1: expected an integer (int64): a JSON number up to 2^53 or a decimal string'],
      [{ ...typesRow, ids: [1, '12abc', 3] }, 'input "ids" element 1'],
      [{ ...typesRow, count: 2 ** 31 }, 'input "count" element 0: expected an integer in int32 range'],
      [{ ...typesRow, mask: [1, 0] }, 'input "mask" element 0: expected true or false (bool), got number 1'],
      [{ ...typesRow, label: 7 }, 'input "label" element 0: expected a string, got number 7'],
      [{ ...typesRow, label: { a: 1 } }, 'input "label" element 0: expected a string, got an object'],
    ]
    for (const [features, message] of cases) expect((await predict(types, features)).message).toContain(message)
  })

  it('takes int64 beyond 2^53 as a decimal string', async () => {
    const out = (await onnx.predict(types, { ...typesRow, ids: ['9007199254740993', '-5', 0] }, ctx)) as Record<string, unknown>
    expect(out['ids_plus_one']).toEqual([2 ** 53 + 2, -4, 1]) // returned as JSON numbers, so the first is rounded
  })

  it('names missing and unknown inputs and lists the known ones', async () => {
    const { mask: _, ...noMask } = typesRow
    const missing = await predict(types, noMask)
    expect(missing.message).toBe('missing input "mask" (inputs: ids, count, mask, label, score)')
    expect(missing.details).toEqual({ field: 'features.mask', missing: ['mask'] })
    const unknown = await predict(mlp, { input: mlpRow, extra: 1 })
    expect(unknown.message).toBe('unknown input "extra" (inputs: input); to send named features, declare feature_order in the options or model.json')
  })

  it('rejects features that are not an object, and arrays for a multi-input model', async () => {
    expect((await predict(mlp, null)).message).toBe('features must be an object keyed by input name (inputs: input), got null')
    expect((await predict(mlp, 3)).message).toContain('got number')
    expect((await predict(types, [1, 2, 3])).message).toContain('features must be an object keyed by input name (inputs: ids, count, mask, label, score), got an array')
  })

  it('prefixes a batch item error with its index', async () => {
    if (onnx.predictBatch === undefined) throw new Error('no predictBatch')
    const err = await rejection(onnx.predictBatch(mlp, [{ input: mlpRow }, { input: mlpRow }, { input: [] }], ctx), 'invalid_request')
    expect(err.message).toMatch(/^features\[2\]: input "input": expected shape \[30\]/)
    expect(err.details).toMatchObject({ index: 2, field: 'features[2].input', input: 'input' })
  })
})

describe('flat records', () => {
  const names = readRows('logreg').feature_names ?? []
  const row = readRows('logreg').rows[0]?.features['features'] as number[]
  const record = Object.fromEntries(names.map((n, i) => [n, row[i]]))

  it('names missing, unknown and mistyped features', async () => {
    const model = await load({ model: 'logreg.onnx', manifest: { feature_order: names } })
    const { mean_radius: _, mean_texture: __, ...partial } = record
    expect((await predict(model, partial)).message).toBe('missing feature "mean_radius", "mean_texture"')
    expect((await predict(model, { ...record, mean_radious: 1 })).message).toMatch(/^unknown feature "mean_radious" \(feature_order has 30: mean_radius, /)
    expect((await predict(model, { ...record, worst_area: 'big' })).message).toBe('feature "worst_area": expected a number (float64), got "big"')
    expect((await predict(model, { ...record, worst_area: [1] })).message).toBe('feature "worst_area": expected a single value, got an array')
    expect((await predict(model, {})).message).toMatch(/^missing feature "mean_radius", .* \(and 25 more\)$/)
    // details.field is the first offending feature's path in the request.
    expect((await predict(model, partial)).details).toEqual({ field: 'features.mean_radius' })
    expect((await predict(model, { ...record, mean_radious: 1 })).details).toEqual({ field: 'features.mean_radious' })
    expect((await predict(model, { ...record, worst_area: 'big' })).details).toEqual({ field: 'features.worst_area' })
  })
})

describe('model_load_failed', () => {
  const mlpBytes = readFileSync(join(FIXTURES, 'mlp.onnx'))
  const loadFails = async (setup: ArtifactSetup, options: Record<string, unknown> = {}) =>
    rejection(makeArtifact(setup).then((a) => onnx.load(a, { options })), 'model_load_failed')

  it('names the file when the model is truncated or not ONNX', async () => {
    for (const bytes of [mlpBytes.subarray(0, 1000), Buffer.from('not a model'), Buffer.alloc(0)]) {
      const err = await loadFails({ files: { 'model.onnx': bytes } })
      expect(err.message).toMatch(/^cannot load ONNX model \/.*\/model\.onnx: /)
      expect(err.cause).toBeInstanceOf(Error)
    }
  })

  it('names the file when it is missing', async () => {
    const err = await loadFails({ manifest: { file: 'nope.onnx' } })
    expect(err.message).toMatch(/^ONNX model file \/.*\/nope\.onnx cannot be read/)
  })

  it('rejects a feature_order that does not fit the model', async () => {
    expect((await loadFails({ model: 'logreg.onnx' }, { feature_order: ['a', 'b'] })).message).toContain(
      'feature_order has 2 names but input "features" takes [batch, 30]',
    )
    expect((await loadFails({ model: 'types.onnx', manifest: { feature_order: ['a'] } })).message).toContain('needs a model with exactly one input')
    expect((await loadFails({ model: 'mlp.onnx' }, { feature_order: ['a', 'a'] })).message).toContain('lists "a" twice')
  })

  it('rejects non-tensor outputs unless options.output avoids them', async () => {
    const err = await loadFails({ model: 'zipmap.onnx' })
    expect(err.message).toContain('output "output_probability" is not a tensor')
    expect(err.message).toContain('set options.output')
  })

  it('rejects bad options, naming them', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ output: 'nope' }, 'options.output "nope" is not an output of the model (outputs: logits, probabilities)'],
      [{ intraOpNumThreads: 1.5 }, 'options.intraOpNumThreads must be an integer >= 0'],
      [{ graphOptimizationLevel: 'max' }, 'options.graphOptimizationLevel must be one of disabled, basic, extended, layout, all'],
      [{ file: 3 }, 'options.file must be a non-empty string'],
      [{ feature_order: 'mean_radius' }, 'options.feature_order must be a non-empty array of feature names'],
    ]
    for (const [options, message] of cases) expect((await loadFails({ model: 'mlp.onnx' }, options)).message).toContain(message)
  })
})

describe('prediction_failed', () => {
  it('wraps onnxruntime errors with the cause (here: a released session)', async () => {
    const model = await onnx.load(await makeArtifact({ model: 'mlp.onnx' }), { options: {} })
    await onnx.unload?.(model)
    const features = { input: readRows('mlp').rows[0]?.features['input'] }
    const err = await rejection((async () => onnx.predict(model, features, ctx))(), 'prediction_failed')
    expect(err.message).toMatch(/model\.onnx: onnxruntime failed: /)
    expect(err.cause).toBeInstanceOf(Error)
  })
})
