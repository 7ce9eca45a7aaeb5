import type { ModelConfig } from '../config/schema.js'
import { DEFAULT_TOLERANCE } from '../model/compare.js'
import { resolveVersion, type PredictBatch, type PredictFn, type PredictRequest } from '../model/predictor.js'
import type { ModelRegistry } from '../model/registry.js'
import type { LoadedVersion } from '../model/version-loader.js'
import type { Logger } from '../observe/logger.js'
import type { PredictionListener } from '../observe/prediction-event.js'
import { withBatching, type BatcherHooks } from './batcher.js'
import type { ExperimentTable } from './experiments.js'
import { Recorder, withBatchEvents, withEvents } from './record.js'
import { ShadowQueue, type ShadowHooks, type ShadowTarget } from './shadow-queue.js'
import { withShed } from './shed.js'
import { withExperiment } from './with-experiment.js'
import { withShadow } from './with-shadow.js'
import { withTimeout } from './with-timeout.js'

/** Shadow jobs waiting per worker; beyond, dropped and counted (`servekit_shadow_dropped_total`). */
export const SHADOW_QUEUE_CAPACITY = 1000
/** Shadow jobs running at once per worker. */
export const SHADOW_CONCURRENCY = 32

/** What the traffic layer tells the metrics. */
export type TrafficHooks = BatcherHooks<LoadedVersion> &
  ShadowHooks & {
    /** A model's queue for a concurrency slot changed length (only ever called while requests queue). */
    queued?(model: string, depth: number): void
  }

export interface TrafficOptions {
  readonly registry: ModelRegistry
  readonly models: Readonly<Record<string, ModelConfig>>
  /** The data plane below: model id -> version -> the model's predict. */
  readonly predict: PredictFn
  readonly predictBatch: PredictBatch
  readonly experiments: ExperimentTable
  /** Read live: listeners added after start receive events too. */
  readonly listeners: readonly PredictionListener[]
  readonly logger: Logger
  readonly hooks?: TrafficHooks | undefined
}

export interface Traffic {
  readonly predict: PredictFn
  readonly predictBatch: PredictBatch
  /** Lets queued and running shadows finish (their events are recorded), for at most `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>
}

/**
 * The request router between the HTTP layer and the models: per model, its traffic rules are
 * resolved here once, at startup, into one composed function; a request costs one Map lookup to
 * find it. Every wrapper has the `PredictFn` signature, and answers synchronously when the call
 * below did (a synchronous model): no promise is made on the way.
 *
 * The order, outermost first, and why:
 * 1. events / shadows — see the final answer (version and arm included); shadows are queued only
 *    once it exists, and run after it was written, so they can neither delay nor change it.
 * 2. timeout — the deadline covers everything below, queueing included: a request waits at most
 *    `timeoutMs` in all. On expiry it answers 504 and aborts the signal the model sees.
 * 3. shed — bounded concurrency and queue (503 beyond). Below the timeout on purpose: a slot is
 *    freed when the work really ends, not when the caller stopped waiting, so a stuck model cannot
 *    make concurrency unbounded. One limit per model, shared by /infer and /infer/batch.
 * 4. experiment — picks the version (the arm) for requests that name none.
 * 5. batching — groups concurrent requests per version (the experiment chose it already).
 * 6. predict — model id -> loaded version -> the model.
 *
 * Timeout and shed apply to every model (both have defaults). The experiment wrapper is one
 * property read for models without one (weights may arrive later, through the admin API); events
 * are one length check while no listener is registered; batching and shadows exist only for the
 * models that configure them.
 */
export function buildTraffic(o: TrafficOptions): Traffic {
  const { registry, models } = o
  const recorder = new Recorder(o.listeners, o.logger)
  const shadows = new ShadowQueue({ capacity: SHADOW_QUEUE_CAPACITY, concurrency: SHADOW_CONCURRENCY, recorder, hooks: o.hooks ?? {}, logger: o.logger })
  const resolve = (req: PredictRequest): LoadedVersion => resolveVersion(registry, req.modelId, req.modelVersion)

  // Batching and predict: what a request runs once admitted, and what shadows of the model run.
  const cores = new Map<string, PredictFn>()
  for (const [id, m] of Object.entries(models)) cores.set(id, m.batching ? withBatching(m.batching, resolve, o.hooks)(o.predict) : o.predict)

  const single = new Map<string, PredictFn>()
  const batch = new Map<string, PredictBatch>()
  for (const [id, m] of Object.entries(models)) {
    const label = `model "${id}"`
    const slot = o.experiments.slot(id)
    if (slot === undefined) throw new Error(`no experiment slot for model "${id}"`)
    const experiment = withExperiment(id, slot, (arm) => registry.get(id)?.routes.has(arm) === true)
    const timeout = withTimeout(m.timeoutMs, label)
    // Within the timeout, every request ahead of a queued one has finished or timed out.
    const queued = o.hooks?.queued
    const shed = withShed(m.concurrency, label, Math.max(1, Math.ceil(m.timeoutMs / 1000)), queued && ((depth) => queued(id, depth)))
    const targets = m.shadow.map((t): ShadowTarget => {
      const model = t.model ?? id
      const target = models[model] as ModelConfig
      return {
        label: t.version === undefined ? model : `${model}@${t.version}`,
        model,
        version: t.version,
        sampleRate: t.sampleRate,
        tolerance: t.tolerance ?? m.tolerance ?? DEFAULT_TOLERANCE,
        timeoutMs: target.timeoutMs,
        predict: cores.get(model) as PredictFn,
      }
    })
    const observe = targets.length > 0 ? withShadow(id, targets, shadows, recorder) : withEvents(recorder)
    single.set(id, observe(timeout(shed(experiment(cores.get(id) as PredictFn)))))
    batch.set(id, withBatchEvents(recorder)(timeout(shed(experiment(o.predictBatch)))))
  }

  return {
    // Unknown ids fall through to the data plane below, which answers model_not_found.
    predict: (req, signal) => (route(single, req.modelId) ?? o.predict)(req, signal),
    predictBatch: (req, signal) => (route(batch, req.modelId) ?? o.predictBatch)(req, signal),
    close: (timeoutMs = 5_000) => shadows.close(timeoutMs),
  }
}

/** `churn` or `churn@4` -> churn's pipeline. */
function route<T>(table: ReadonlyMap<string, T>, modelId: string): T | undefined {
  const hit = table.get(modelId)
  if (hit !== undefined) return hit
  const at = modelId.indexOf('@')
  return at === -1 ? undefined : table.get(modelId.slice(0, at))
}
