import { access } from 'node:fs/promises'
import type { InferenceSession, Tensor } from 'onnxruntime-node'
import { isServekitError, ServekitError } from '../errors.js'
import { defineModel } from '../model/interface.js'
import { featureLayout, toExample, type FeatureLayout } from './onnx/features.js'
import { readSettings } from './onnx/options.js'
import { readSignature, type Signature } from './onnx/signature.js'
import { formatShape, outputRow, typedData, type ExampleValue, type JsonValue } from './onnx/tensors.js'
import { readTestDataFile } from './shared/test-data-file.js'

/**
 * Built-in model class for ONNX models, run on CPU by onnxruntime-node.
 *
 * onnxruntime-node is imported inside `load` only (it maps a ~45 MB native library), so services
 * that serve no ONNX model never pay for it. Only types are imported above; they vanish at build.
 *
 * Features: `{ "<input>": value }` per model input (one example, no batch dim), a bare array for a
 * one-input model, or a flat `{ feature: value }` record when `feature_order` is declared.
 * Output: `{ "<output>": value }`, or the bare value for a one-output model or `options.output`.
 */

type Ort = typeof import('onnxruntime-node')

export interface LoadedOnnx {
  readonly ort: Ort
  readonly session: InferenceSession
  /** Absolute path of the model file, for messages. */
  readonly file: string
  readonly signature: Signature
  readonly layout: FeatureLayout | null
  /** The output returned bare, or null to return an object of all outputs. */
  readonly bare: string | null
}

export type OnnxOutput = JsonValue | { [output: string]: JsonValue }

type Example = Map<string, ExampleValue>

export default defineModel<unknown, LoadedOnnx, OnnxOutput>({
  async load(artifact, { options }) {
    const settings = readSettings(artifact, options)
    const file = artifact.path(settings.file)
    try {
      await access(file)
    } catch (err) {
      throw new ServekitError('model_load_failed', `ONNX model file ${file} cannot be read (${(err as Error).message}); set "file" in model.json or options.file`, { cause: err })
    }
    const ort = await importOrt()
    let session: InferenceSession
    try {
      session = await ort.InferenceSession.create(file, settings.session)
    } catch (err) {
      throw new ServekitError('model_load_failed', `cannot load ONNX model ${file}: ${(err as Error).message}`, { cause: err })
    }
    try {
      const signature = readSignature(session, file, settings.output)
      const layout = settings.featureOrder === null ? null : featureLayout(settings.featureOrder, signature, file)
      const [only, ...more] = signature.outputs
      const bare = settings.output ?? (only !== undefined && more.length === 0 ? only.name : null)
      return { ort, session, file, signature, layout, bare }
    } catch (err) {
      await session.release()
      throw err
    }
  },

  async predict(model, features) {
    const [output] = await run(model, [toExample(features, model.signature, model.layout)])
    return output as OnnxOutput
  },

  async predictBatch(model, features) {
    const examples = features.map((f, i) => atIndex(i, () => toExample(f, model.signature, model.layout)))
    if (!model.signature.stackable) {
      const outputs: OnnxOutput[] = []
      for (const example of examples) outputs.push(...(await run(model, [example])))
      return outputs
    }
    // Examples stack only when their shapes agree (inputs with dynamic inner dims may differ).
    const groups = new Map<string, number[]>()
    examples.forEach((example, i) => {
      const key = [...example.values()].map((v) => v.shape.join('x')).join('|')
      groups.set(key, [...(groups.get(key) ?? []), i])
    })
    const outputs = new Array<OnnxOutput>(examples.length)
    for (const indices of groups.values()) {
      const results = await run(model, indices.map((i) => examples[i] as Example))
      indices.forEach((i, k) => (outputs[i] = results[k] as OnnxOutput))
    }
    return outputs
  },

  async unload(model) {
    await model.session.release()
  },

  // Outputs are any JSON (named tensors or a bare one), so `expected` is not checked up front.
  testData: (artifact) => readTestDataFile<OnnxOutput>(artifact),

  // float32 graphs: onnxruntime's fused kernels sum in a different order than the training framework.
  tolerance: { absolute: 1e-5, relative: 1e-4 },
})

async function importOrt(): Promise<Ort> {
  try {
    const mod = await import('onnxruntime-node')
    // A CommonJS package: the namespace carries module.exports as `default`.
    return (mod as { default?: Ort }).default ?? mod
  } catch (err) {
    throw new ServekitError('model_load_failed', `onnxruntime-node could not be loaded: ${(err as Error).message}`, { cause: err })
  }
}

/** One `session.run` for `examples` stacked along the batch dim (callers pass one unless stackable). */
async function run(model: LoadedOnnx, examples: readonly Example[]): Promise<OnnxOutput[]> {
  const { ort, session, signature, file } = model
  const n = examples.length
  const feeds: Record<string, Tensor> = {}
  for (const spec of signature.inputs) {
    const values = examples.map((e) => e.get(spec.name) as ExampleValue)
    const shape = (values[0] as ExampleValue).shape
    const dims = spec.batch === 'dynamic' || spec.batch === 'fixed' ? [n, ...shape] : shape
    feeds[spec.name] = new ort.Tensor(spec.type, typedData(spec.type, values.map((v) => v.data)), dims)
  }
  let results: InferenceSession.ReturnType
  try {
    results = await session.run(feeds, signature.outputs.map((s) => s.name))
  } catch (err) {
    throw new ServekitError('prediction_failed', `${file}: onnxruntime failed: ${(err as Error).message}`, { cause: err })
  }
  const rows: Record<string, JsonValue>[] = Array.from({ length: n }, () => ({}))
  for (const spec of signature.outputs) {
    const tensor = results[spec.name] as Tensor
    const dims = tensor.dims
    const perExample = signature.batched && spec.batch !== 'none' && dims.length > 0 && dims[0] === n
    if (!perExample && n > 1) {
      throw new ServekitError('prediction_failed', `${file}: output "${spec.name}" has shape ${formatShape(dims)}, not one row per example of a batch of ${n}`)
    }
    const rowShape = perExample ? dims.slice(1) : dims
    rows.forEach((row, i) => (row[spec.name] = outputRow(tensor, rowShape, i)))
  }
  return rows.map((row) => (model.bare === null ? row : (row[model.bare] as JsonValue)))
}

/**
 * Prefixes a batch item's error with its index, so a client can find the bad one: in the message,
 * in `details.index`, and in `details.field` (`features.x` becomes `features[2].x`).
 */
function atIndex<T>(i: number, f: () => T): T {
  try {
    return f()
  } catch (err) {
    if (!isServekitError(err)) throw err
    const inner = err.details?.['field']
    const field = `features[${i}]${typeof inner === 'string' && inner.startsWith('features') ? inner.slice('features'.length) : ''}`
    throw new ServekitError(err.code, `features[${i}]: ${err.message}`, { cause: err, details: { ...err.details, index: i, field } })
  }
}
