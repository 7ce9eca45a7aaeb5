import { ServekitError } from '../errors.js'
import type { PredictContext } from './interface.js'
import type { LoadedVersion, ModelRegistry } from './registry.js'

/** One prediction, as every protocol adapter (HTTP /infer, CLI predict) asks for it. */
export interface PredictRequest {
  /** A model id, or `name@version` / `name@alias`. */
  readonly modelId: string
  /** A version or alias; overrides one given in `modelId`. */
  readonly modelVersion?: string | undefined
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
  readonly modelVersion?: string | undefined
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

/**
 * Resolves a model id (optionally `name@version` or `name@alias`, or with an explicit version) to a
 * loaded version: one or two Map lookups.
 */
export function resolveVersion(registry: ModelRegistry, modelId: string, modelVersion?: string): LoadedVersion {
  let name = modelId
  let wanted = modelVersion
  const at = modelId.indexOf('@')
  if (at !== -1) {
    name = modelId.slice(0, at)
    wanted ??= modelId.slice(at + 1)
  }
  const entry = registry.get(name)
  if (entry === undefined) {
    throw new ServekitError('model_not_found', `model "${truncate(name)}" not found (known: ${registry.ids.join(', ')})`)
  }
  if (wanted !== undefined) {
    const version = entry.routes.get(wanted)
    if (version === undefined) {
      throw new ServekitError('version_not_found', `model "${name}" has no loaded version or alias "${truncate(wanted)}" (loaded: ${[...entry.routes.keys()].join(', ') || 'none'})`)
    }
    return version
  }
  const version = entry.serving
  if (version === undefined) {
    throw new ServekitError('not_ready', entry.status === 'failed' ? `model "${name}" failed to load: ${entry.error}` : `model "${name}" is still loading`)
  }
  return version
}

/** Observers of the data plane; called synchronously, so keep them to a counter or histogram update. */
export interface PredictorHooks {
  /** A predict (`size` 0) or a predictBatch of `size` items finished on `version`, successful or not. */
  predicted?(version: LoadedVersion, seconds: number, size: number): void
}

/** Builds the data plane over a registry. */
export function createPredictor(registry: ModelRegistry, hooks: PredictorHooks = {}): { predict: Predict; predictBatch: PredictBatch } {
  const predicted = hooks.predicted
  const context = (parameters: Readonly<Record<string, unknown>> | undefined, signal: AbortSignal): PredictContext => ({
    parameters: parameters ?? NO_PARAMETERS,
    signal,
  })
  return {
    async predict(req, signal) {
      const version = resolveVersion(registry, req.modelId, req.modelVersion)
      // Counted so a swapped-out version is unloaded only after its last request.
      version.inflight++
      const started = performance.now()
      try {
        const output = await version.predict(req.features, context(req.parameters, signal))
        return { output, modelId: version.modelId, modelVersion: version.version }
      } finally {
        version.inflight--
        predicted?.(version, (performance.now() - started) / 1000, 0)
      }
    },
    async predictBatch(req, signal) {
      const version = resolveVersion(registry, req.modelId, req.modelVersion)
      version.inflight++
      const started = performance.now()
      try {
        const results = await version.predictBatch(req.instances, context(req.parameters, signal))
        return { modelId: version.modelId, modelVersion: version.version, results }
      } finally {
        version.inflight--
        predicted?.(version, (performance.now() - started) / 1000, req.instances.length)
      }
    },
  }
}

/** Keeps hostile ids (10 000 characters) out of messages and logs. */
const truncate = (s: string): string => (s.length > 64 ? `${s.slice(0, 64)}…` : s)
