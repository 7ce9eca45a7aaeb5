import { ServekitError } from '../errors.js'
import type { PredictContext } from './interface.js'
import type { MaybePromise } from './maybe-promise.js'
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
  /** Makes an experiment's split sticky: the same key always gets the same arm. */
  readonly experimentKey?: string | undefined
  /**
   * The request body's JSON text, with `features` one of its top-level members, when the request
   * came over HTTP: the prediction log copies the features' text from it rather than encoding them
   * again. Leave it out otherwise.
   */
  readonly bodyJson?: string | undefined
}

export interface PredictResult {
  readonly output: unknown
  readonly modelId: string
  readonly modelVersion: string
  /** The experiment arm that served; absent or null when no experiment chose the version. */
  readonly arm?: string | null
}

/**
 * A call's cancellation, as the data plane reads it. An AbortSignal is one; the HTTP layer passes a
 * cheaper one (traffic/request-signal.ts) because creating an AbortSignal costs ~15 µs on Node 20,
 * more than the rest of a small model's request. The model still gets a real AbortSignal as
 * `context.signal`, made from it only if the model reads it.
 */
export interface CallSignal {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: 'abort', listener: { handleEvent(): void }): void
  removeEventListener(type: 'abort', listener: { handleEvent(): void }): void
  /** An AbortSignal aborted with this one (made once, on first call). */
  toAbortSignal?(): AbortSignal
}

/** One prediction through servekit's data plane (what `Server.predict` is). */
export type Predict = (req: PredictRequest, signal: CallSignal) => Promise<PredictResult>

/**
 * The protocol-neutral data plane inside servekit: adapters translate to and from it; traffic
 * features wrap it. Synchronous when the model is (see maybe-promise.ts): the result, or a throw.
 */
export type PredictFn = (req: PredictRequest, signal: CallSignal) => MaybePromise<PredictResult>

export interface PredictBatchRequest {
  readonly modelId: string
  readonly modelVersion?: string | undefined
  readonly instances: readonly unknown[]
  readonly requestId: string
  readonly parameters?: Readonly<Record<string, unknown>> | undefined
  readonly experimentKey?: string | undefined
}

export type BatchItemResult = { readonly output: unknown } | { readonly error: ServekitError }

export interface PredictBatchResult {
  readonly modelId: string
  readonly modelVersion: string
  readonly results: readonly BatchItemResult[]
  readonly arm?: string | null
}

export type PredictBatch = (req: PredictBatchRequest, signal: CallSignal) => Promise<PredictBatchResult>

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
  /** With tracing on: runs the model's predict in a child span of the request's. */
  span?<T>(name: string, attributes: Record<string, string>, fn: () => MaybePromise<T>): Promise<T>
}

/** Builds the data plane over a registry. */
export function createPredictor(registry: ModelRegistry, hooks: PredictorHooks = {}): { predict: PredictFn; predictBatch: PredictBatch } {
  const predicted = hooks.predicted
  const span = hooks.span
  const context = (parameters: Readonly<Record<string, unknown>> | undefined, signal: CallSignal): PredictContext => predictContext(parameters ?? NO_PARAMETERS, signal)
  /** Counted so a swapped-out version is unloaded only after its last request. */
  const finished = (version: LoadedVersion, started: number): void => {
    version.inflight--
    predicted?.(version, (performance.now() - started) / 1000, 0)
  }

  /** With tracing on: routing and predict each in a child span. */
  const traced = async (req: PredictRequest, signal: CallSignal, span: NonNullable<PredictorHooks['span']>): Promise<PredictResult> => {
    const version = await span('servekit.route', { 'servekit.model_id': req.modelId }, () => resolveVersion(registry, req.modelId, req.modelVersion))
    version.inflight++
    const started = performance.now()
    try {
      const ctx = context(req.parameters, signal)
      const output = await span('servekit.predict', { 'servekit.model_id': version.modelId, 'servekit.model_version': version.version }, () => version.predict(req.features, ctx))
      return { output, modelId: version.modelId, modelVersion: version.version }
    } finally {
      finished(version, started)
    }
  }

  return {
    predict(req, signal) {
      if (span !== undefined) return traced(req, signal, span)
      const version = resolveVersion(registry, req.modelId, req.modelVersion)
      version.inflight++
      const started = performance.now()
      let output: unknown
      try {
        output = version.predict(req.features, context(req.parameters, signal))
      } catch (err) {
        finished(version, started)
        throw err
      }
      if (output instanceof Promise) {
        return output.then(
          (value: unknown) => {
            finished(version, started)
            return { output: value, modelId: version.modelId, modelVersion: version.version }
          },
          (err: unknown) => {
            finished(version, started)
            throw err
          },
        )
      }
      finished(version, started)
      return { output, modelId: version.modelId, modelVersion: version.version }
    },
    async predictBatch(req, signal) {
      const version =
        span === undefined
          ? resolveVersion(registry, req.modelId, req.modelVersion)
          : await span('servekit.route', { 'servekit.model_id': req.modelId }, async () => resolveVersion(registry, req.modelId, req.modelVersion))
      version.inflight++
      const started = performance.now()
      try {
        const ctx = context(req.parameters, signal)
        const results =
          span === undefined
            ? await version.predictBatch(req.instances, ctx)
            : await span('servekit.predict_batch', { 'servekit.model_id': version.modelId, 'servekit.model_version': version.version }, () => version.predictBatch(req.instances, ctx))
        return { modelId: version.modelId, modelVersion: version.version, results }
      } finally {
        version.inflight--
        predicted?.(version, (performance.now() - started) / 1000, req.instances.length)
      }
    },
  }
}

/** What `predict` gets besides the features; `signal` is made on first read when the call's signal is not an AbortSignal. */
export function predictContext(parameters: Readonly<Record<string, unknown>>, signal: CallSignal): PredictContext {
  return signal instanceof AbortSignal ? { parameters, signal } : new LazyContext(parameters, signal)
}

class LazyContext implements PredictContext {
  private made: AbortSignal | undefined
  constructor(
    readonly parameters: Readonly<Record<string, unknown>>,
    private readonly from: CallSignal,
  ) {}

  get signal(): AbortSignal {
    return (this.made ??= toAbortSignal(this.from))
  }
}

function toAbortSignal(from: CallSignal): AbortSignal {
  if (from.toAbortSignal) return from.toAbortSignal()
  const controller = new AbortController()
  if (from.aborted) controller.abort(from.reason)
  else from.addEventListener('abort', { handleEvent: () => controller.abort(from.reason) })
  return controller.signal
}

/** Keeps hostile ids (10 000 characters) out of messages and logs. */
const truncate = (s: string): string => (s.length > 64 ? `${s.slice(0, 64)}…` : s)
