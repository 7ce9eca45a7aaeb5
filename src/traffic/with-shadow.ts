import type { PredictFn, PredictRequest, PredictResult } from '../model/predictor.js'
import { predictionEvent, started, type Recorder, type Started } from './record.js'
import type { ShadowQueue, ShadowTarget } from './shadow-queue.js'

/**
 * Shadow traffic: once the primary answered, each target is sampled (`sampleRate`) and the sampled
 * ones are queued for the shadow queue, which runs them after the response was written. Nothing a
 * shadow does reaches the primary's caller: the primary's result is returned as it is, before any
 * shadow starts.
 *
 * The prediction event of a shadowed request is recorded by the queue, with the shadows' outputs,
 * once they finished; an unsampled (or dropped) request records its event here, at once.
 */
export function withShadow(modelId: string, targets: readonly ShadowTarget[], queue: ShadowQueue, recorder: Recorder) {
  const answered = (req: PredictRequest, result: PredictResult, start: Started): PredictResult => {
    const latencyMs = performance.now() - start.t0
    let picked: ShadowTarget[] | undefined
    for (const t of targets) {
      // A request that named the target's own version is not compared with itself.
      if (t.model === result.modelId && t.version === result.modelVersion) continue
      if (Math.random() < t.sampleRate) (picked ??= []).push(t)
    }
    // A copy: the job records after its shadows finish, to the listeners picked now.
    const listeners = recorder.listeners.length > 0 ? recorder.select(result.modelId)?.slice() : undefined
    if (picked === undefined || !queue.push({ modelId, req, result, start, latencyMs, targets: picked, listeners })) {
      if (listeners) recorder.record(predictionEvent(req, result, start.at, latencyMs, []), listeners, req.bodyJson)
    }
    return result
  }
  return (inner: PredictFn): PredictFn =>
    (req, signal) => {
      const start = started()
      const result = inner(req, signal)
      return result instanceof Promise ? result.then((r) => answered(req, r, start)) : answered(req, result, start)
    }
}
