import type { InferenceSession } from 'onnxruntime-node'
import { ServekitError } from '../../errors.js'
import type { Artifact } from '../../model/interface.js'

/**
 * The ONNX model class's settings, from the model's `options` in `servekit.config.ts` and from
 * `model.json` (`file`, `feature_order`). The config wins, so one artifact can be served two ways.
 */
export interface OnnxSettings {
  /** Model file inside the artifact. */
  readonly file: string
  readonly featureOrder: readonly string[] | null
  /** The one output to fetch and return bare; all outputs when undefined. */
  readonly output: string | undefined
  readonly session: InferenceSession.SessionOptions
}

const DEFAULT_FILE = 'model.onnx'
const OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'layout', 'all'] as const
const EXECUTION_MODES = ['sequential', 'parallel'] as const

export function readSettings(artifact: Artifact, options: Readonly<Record<string, unknown>>): OnnxSettings {
  const fail = (source: string, problem: string): ServekitError =>
    new ServekitError('model_load_failed', `${artifact.name}@${artifact.version}: ${source} ${problem}`)
  const manifest = artifact.manifest as Record<string, unknown>

  // Each setting: the first of (config option, model.json field) that is present.
  const pick = (key: string, fromManifest: boolean): [string, unknown] | undefined => {
    if (options[key] !== undefined) return [`options.${key}`, options[key]]
    if (fromManifest && manifest[key] !== undefined) return [`model.json "${key}"`, manifest[key]]
    return undefined
  }
  const string = (key: string, fromManifest: boolean): string | undefined => {
    const found = pick(key, fromManifest)
    if (found === undefined) return undefined
    if (typeof found[1] !== 'string' || found[1] === '') throw fail(found[0], 'must be a non-empty string')
    return found[1]
  }
  const threads = (key: string): number | undefined => {
    const found = pick(key, false)
    if (found === undefined) return undefined
    if (!Number.isInteger(found[1]) || (found[1] as number) < 0) throw fail(found[0], 'must be an integer >= 0 (0 lets onnxruntime choose)')
    return found[1] as number
  }
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
    const found = pick(key, false)
    if (found === undefined) return undefined
    if (!allowed.includes(found[1] as T)) throw fail(found[0], `must be one of ${allowed.join(', ')}`)
    return found[1] as T
  }

  let featureOrder: string[] | null = null
  const order = pick('feature_order', true)
  if (order !== undefined) {
    const [source, value] = order
    if (!Array.isArray(value) || value.length === 0 || !value.every((n) => typeof n === 'string' && n !== '')) {
      throw fail(source, 'must be a non-empty array of feature names')
    }
    featureOrder = value as string[]
  }

  let extra: Record<string, unknown> = {}
  const passthrough = pick('sessionOptions', false)
  if (passthrough !== undefined) {
    if (typeof passthrough[1] !== 'object' || passthrough[1] === null || Array.isArray(passthrough[1])) {
      throw fail(passthrough[0], 'must be an object of onnxruntime SessionOptions')
    }
    extra = passthrough[1] as Record<string, unknown>
  }

  const session: InferenceSession.SessionOptions = {
    ...(extra as InferenceSession.SessionOptions),
    // One worker process per core already fills the machine; more intra-op threads only contend.
    intraOpNumThreads: threads('intraOpNumThreads') ?? 1,
    // servekit ships CPU inference only; GPU providers need a different onnxruntime build.
    executionProviders: ['cpu'],
  }
  const inter = threads('interOpNumThreads')
  if (inter !== undefined) session.interOpNumThreads = inter
  const level = oneOf('graphOptimizationLevel', OPTIMIZATION_LEVELS)
  if (level !== undefined) session.graphOptimizationLevel = level
  const mode = oneOf('executionMode', EXECUTION_MODES)
  if (mode !== undefined) session.executionMode = mode

  return { file: string('file', true) ?? DEFAULT_FILE, featureOrder, output: string('output', false), session }
}
