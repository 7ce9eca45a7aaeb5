import { toPromise, type MaybePromise } from '../model/maybe-promise.js'
import type { CallSignal, PredictBatch, PredictBatchRequest, PredictBatchResult, PredictFn, PredictRequest, PredictResult } from '../model/predictor.js'
import { isoTime } from '../observe/clock.js'
import { roundMs } from '../observe/json-text.js'
import type { Logger } from '../observe/logger.js'
import type { PredictionEvent, PredictionListener, ShadowRecord } from '../observe/prediction-event.js'

/**
 * Hands prediction events to the listeners (prediction log, drift monitoring). An event is built
 * only when some listener wants the model; a listener that throws is logged and skipped, never
 * allowed to fail the request. `listeners` is read live, so listeners added after start count.
 */
export class Recorder {
  private warned = false

  constructor(
    readonly listeners: readonly PredictionListener[],
    private readonly logger: Logger,
  ) {}

  /**
   * The listeners that take this prediction, or undefined when none does. Each listener is asked
   * exactly once per prediction, because `wants` may be a sampling draw: asking twice would square
   * the sample rate.
   */
  select(modelId: string): readonly PredictionListener[] | undefined {
    const all = this.listeners
    // The usual answer is "every listener": then the list itself, with no array made per request.
    let picked: PredictionListener[] | undefined
    for (let i = 0; i < all.length; i++) {
      const l = all[i]!
      let wants = false
      try {
        wants = l.wants(modelId)
      } catch (err) {
        this.warnOnce(err)
      }
      if (wants) picked?.push(l)
      else picked ??= all.slice(0, i)
    }
    if (picked === undefined) return all.length > 0 ? all : undefined
    return picked.length > 0 ? picked : undefined
  }

  /** Gives the event to the listeners `select` picked for it; `bodyJson` as in PredictionListener.record. */
  record(event: PredictionEvent, picked: readonly PredictionListener[], bodyJson?: string): void {
    for (const l of picked) {
      try {
        l.record(event, bodyJson)
      } catch (err) {
        this.warnOnce(err)
      }
    }
  }

  private warnOnce(err: unknown): void {
    // Once per process: a broken listener would otherwise log on every request.
    if (!this.warned) this.logger.error({ err }, 'a prediction listener threw; events to it may be lost')
    this.warned = true
  }
}

/** When a request entered the data plane: wall clock for `ts`, monotonic for `latency_ms`. */
export interface Started {
  readonly at: number
  readonly t0: number
}

export const started = (): Started => ({ at: Date.now(), t0: performance.now() })

/** `at`: when the request entered the data plane (`Date.now()`), for `ts`; the latency is reported to the microsecond. */
export function predictionEvent(req: PredictRequest, res: PredictResult, at: number, latencyMs: number, shadows: readonly ShadowRecord[]): PredictionEvent {
  return {
    ts: isoTime(at),
    request_id: req.requestId,
    model_id: res.modelId,
    model_version: res.modelVersion,
    arm: res.arm ?? null,
    features: req.features,
    output: res.output,
    latency_ms: roundMs(latencyMs),
    shadows,
  }
}

const NO_SHADOWS: readonly ShadowRecord[] = Object.freeze([])

/** One event per prediction, once answered (at once for a synchronous answer). Costs one length check when nobody listens. */
export function withEvents(recorder: Recorder) {
  return (inner: PredictFn): PredictFn =>
    (req, signal) => {
      if (recorder.listeners.length === 0) return inner(req, signal)
      const at = Date.now()
      const t0 = performance.now()
      const res = inner(req, signal)
      if (res instanceof Promise) {
        return res.then((r) => {
          recordOne(recorder, req, r, at, t0)
          return r
        })
      }
      recordOne(recorder, req, res, at, t0)
      return res
    }
}

function recordOne(recorder: Recorder, req: PredictRequest, res: PredictResult, at: number, t0: number): void {
  const picked = recorder.select(res.modelId)
  if (picked) recorder.record(predictionEvent(req, res, at, performance.now() - t0, NO_SHADOWS), picked, req.bodyJson)
}

/** The batch endpoint: one event per instance that got an output, all with the request's id. */
export function withBatchEvents(recorder: Recorder) {
  return (inner: (req: PredictBatchRequest, signal: CallSignal) => MaybePromise<PredictBatchResult>): PredictBatch =>
    (req, signal) => {
      if (recorder.listeners.length === 0) return toPromise(() => inner(req, signal))
      const start = started()
      return toPromise(() => inner(req, signal)).then((res) => {
        const picked = recorder.select(res.modelId)
        if (!picked) return res
        const latency = roundMs(performance.now() - start.t0)
        const ts = isoTime(start.at)
        res.results.forEach((r, i) => {
          if (!('output' in r)) return
          recorder.record({ ts, request_id: req.requestId, model_id: res.modelId, model_version: res.modelVersion, arm: res.arm ?? null, features: req.instances[i], output: r.output, latency_ms: latency, shadows: NO_SHADOWS }, picked)
        })
        return res
      })
    }
}
