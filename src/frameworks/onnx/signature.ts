import type { InferenceSession } from 'onnxruntime-node'
import { ServekitError } from '../../errors.js'
import { formatShape, isElementType, type Dim, type ElementType } from './tensors.js'

/**
 * What a loaded ONNX model takes and returns, read once from the session's metadata.
 *
 * Batch dim: a leading dynamic dim (`batch`, `N`, or unnamed) is the batch, so a request sends one
 * example without it and many examples share one `session.run`. A leading fixed 1 is a batch of
 * one: servekit still adds it, but runs each example alone. Any other shape has no batch dim and
 * is fed exactly as sent.
 */

/** `dynamic`: leading dynamic dim; `fixed`: leading 1; `none`: no batch dim; `unknown`: no shape declared. */
export type BatchMode = 'dynamic' | 'fixed' | 'none' | 'unknown'

export interface TensorSpec {
  readonly name: string
  readonly type: ElementType
  /** The shape the model declares, batch dim included (`[]` when it declares none). */
  readonly declared: readonly Dim[]
  readonly batch: BatchMode
  /** One example's shape (the declared shape without the batch dim); null when undeclared. */
  readonly example: readonly Dim[] | null
}

export interface Signature {
  readonly inputs: readonly TensorSpec[]
  /** The outputs fetched on every run, in the model's order. */
  readonly outputs: readonly TensorSpec[]
  /** Whether servekit adds a batch dim of its own to the inputs (so it strips one from the outputs). */
  readonly batched: boolean
  /** Whether many examples can be stacked into one run. */
  readonly stackable: boolean
}

type Metadata = InferenceSession.ValueMetadata

/**
 * Reads the session's inputs and outputs. `output` (from the options) picks one output to fetch;
 * otherwise all are fetched, and each must be a tensor of a type servekit converts.
 */
export function readSignature(session: InferenceSession, file: string, output: string | undefined): Signature {
  // inputMetadata arrived in onnxruntime-node 1.21; before that only names exist.
  const inMeta = session.inputMetadata as readonly Metadata[] | undefined
  const outMeta = session.outputMetadata as readonly Metadata[] | undefined
  const inputs = session.inputNames.map((name, i) => spec(name, inMeta?.[i], file, 'input'))
  if (output !== undefined && !session.outputNames.includes(output)) {
    throw new ServekitError('model_load_failed', `${file}: options.output "${output}" is not an output of the model (outputs: ${session.outputNames.join(', ')})`)
  }
  const outputs = session.outputNames
    .map((name, i) => ({ name, meta: outMeta?.[i] }))
    .filter(({ name }) => output === undefined || name === output)
    .map(({ name, meta }) => spec(name, meta, file, 'output'))
  const batched = inputs.some((s) => s.batch === 'dynamic' || s.batch === 'fixed')
  const stackable =
    inputs.length > 0 &&
    inputs.every((s) => s.batch === 'dynamic') &&
    outputs.every((s) => s.batch === 'dynamic' || s.batch === 'unknown')
  return { inputs, outputs, batched, stackable }
}

function spec(name: string, meta: Metadata | undefined, file: string, role: 'input' | 'output'): TensorSpec {
  if (meta === undefined || !('type' in meta)) {
    // Older onnxruntime-node: no types or shapes, so assume float32 and check nothing.
    if (meta !== undefined && !meta.isTensor) throw notTensor(name, file, role)
    return { name, type: 'float32', declared: [], batch: 'unknown', example: null }
  }
  if (!meta.isTensor) throw notTensor(name, file, role)
  if (!isElementType(meta.type)) {
    const hint = role === 'output' ? '; set options.output to fetch another output' : ''
    throw new ServekitError('model_load_failed', `${file}: ${role} "${name}" has element type ${meta.type}, which servekit cannot convert to or from JSON${hint}`)
  }
  const declared = meta.shape.slice()
  const first = declared[0]
  if (first === undefined) return { name, type: meta.type, declared, batch: 'unknown', example: null }
  const batch: BatchMode = typeof first === 'string' || first < 0 ? 'dynamic' : first === 1 ? 'fixed' : 'none'
  return { name, type: meta.type, declared, batch, example: batch === 'none' ? declared : declared.slice(1) }
}

const notTensor = (name: string, file: string, role: string): ServekitError =>
  new ServekitError(
    'model_load_failed',
    `${file}: ${role} "${name}" is not a tensor (a sequence or map, e.g. skl2onnx's ZipMap)` +
      (role === 'output' ? '; export without it (skl2onnx: options={"zipmap": False}) or set options.output to a tensor output' : ''),
  )

/** One line per tensor for messages and logs, e.g. `input: float32 [batch, 30]`. */
export const describeSpecs = (specs: readonly TensorSpec[]): string =>
  specs.map((s) => `${s.name}: ${s.type} ${s.declared.length > 0 ? formatShape(s.declared) : '(shape not declared)'}`).join('; ')
