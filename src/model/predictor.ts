import { ServekitError } from '../errors.js'
import type { PredictContext } from './interface.js'
import type { LoadedVersion, ModelRegistry } from './registry.js'

/** One prediction, as every protocol adapter (HTTP /infer, CLI predict) asks for it. */
export interface PredictRequest {
  readonly modelId: string
  readonly features: unknown
  readonly requestId: string
  readonly parameters?: Readonly<Record<string, unknown>> | undefined
}

export interface PredictResult {
  readonly output: unknown
  readonly modelId: string
  readonly modelVersion: string
}

/** The protocol-neutral data plane: adapters translate to and from it; traffic features wrap it. */
export type Predict = (req: PredictRequest, signal: AbortSignal) => Promise<PredictResult>

export interface PredictBatchRequest {
  readonly modelId: string
  readonly instances: readonly unknown[]
  readonly requestId: string
  readonly parameters?: Readonly<Record<string, unknown>> | undefined
}

export type BatchItemResult = { readonly output: unknown } | { readonly error: ServekitError }

export interface PredictBatchResult {
  readonly modelId: string
  readonly modelVersion: string
  readonly results: readonly BatchItemResult[]
}

export type PredictBatch = (req: PredictBatchRequest, signal: AbortSignal) => Promise<PredictBatchResult>

const NO_PARAMETERS: Readonly<Record<string, unknown>> = Object.freeze({})

/** Resolves a model id to its serving version: one Map lookup. */
export function resolveVersion(registry: ModelRegistry, modelId: string): LoadedVersion {
  const entry = registry.get(modelId)
  if (entry === undefined) {
    throw new ServekitError('model_not_found', `model "${truncate(modelId)}" not found (known: ${registry.ids.join(', ')})`)
  }
  const version = entry.serving
  if (version === undefined) {
    throw new ServekitError('not_ready', entry.status === 'failed' ? `model "${modelId}" failed to load: ${entry.error}` : `model "${modelId}" is still loading`)
  }
  return version
}

/** Builds the data plane over a registry. */
export function createPredictor(registry: ModelRegistry): { predict: Predict; predictBatch: PredictBatch } {
  const context = (parameters: Readonly<Record<string, unknown>> | undefined, signal: AbortSignal): PredictContext => ({
    parameters: parameters ?? NO_PARAMETERS,
    signal,
  })
  return {
    async predict(req, signal) {
      const version = resolveVersion(registry, req.modelId)
      const output = await version.predict(req.features, context(req.parameters, signal))
      return { output, modelId: req.modelId, modelVersion: version.version }
    },
    async predictBatch(req, signal) {
      const version = resolveVersion(registry, req.modelId)
      const results = await version.predictBatch(req.instances, context(req.parameters, signal))
      return { modelId: req.modelId, modelVersion: version.version, results }
    },
  }
}

/** Keeps hostile ids (10 000 characters) out of messages and logs. */
const truncate = (s: string): string => (s.length > 64 ? `${s.slice(0, 64)}…` : s)
