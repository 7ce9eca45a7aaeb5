import type { MaybePromise } from '../model/maybe-promise.js'
import type { CallSignal } from '../model/predictor.js'
import type { ExperimentSlot } from './experiments.js'

/** What an experiment reads from a request: `PredictRequest` and `PredictBatchRequest` both fit. */
interface Routable {
  readonly modelId: string
  readonly modelVersion?: string | undefined
  readonly experimentKey?: string | undefined
}

type Call<Req, Res> = (req: Req, signal: CallSignal) => MaybePromise<Res>

/**
 * Sends requests that name no version to an experiment arm: `experiment_key` if sent, else the
 * configured key feature, else random. Requests that name a version (`model_version`, `id@v`) are
 * not part of the experiment. An arm that is not loaded (still loading, or failed) is skipped: the
 * default version answers, with no arm, rather than the request failing.
 *
 * `slot` is read on each request, so new weights apply from the next request on.
 */
export function withExperiment(modelId: string, slot: ExperimentSlot, isLoaded: (arm: string) => boolean) {
  return <Req extends Routable, Res extends object>(inner: Call<Req, Res>): Call<Req, Res> =>
    (req, signal) => {
      const experiment = slot.current
      if (experiment === undefined || req.modelVersion !== undefined || req.modelId !== modelId) return inner(req, signal)
      const arm = experiment.pick(req.experimentKey ?? keyFeature((req as { features?: unknown }).features, experiment.key))
      if (!isLoaded(arm)) return inner(req, signal)
      const res = inner({ ...req, modelVersion: arm }, signal)
      return res instanceof Promise ? res.then((r) => ({ ...r, arm })) : { ...res, arm }
    }
}

/** The configured key feature as a string, when the features are an object holding a string or a number there. */
function keyFeature(features: unknown, key: string | undefined): string | undefined {
  if (key === undefined || features === null || typeof features !== 'object') return undefined
  const value = (features as Record<string, unknown>)[key]
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}
