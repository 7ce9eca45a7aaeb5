import { isServekitError, ServekitError } from '../errors.js'
import { compareOutputs } from '../model/compare.js'
import type { Tolerance } from '../model/interface.js'
import type { PredictFn, PredictRequest, PredictResult } from '../model/predictor.js'
import { toPromise } from '../model/maybe-promise.js'
import type { Logger } from '../observe/logger.js'
import type { PredictionListener, ShadowRecord } from '../observe/prediction-event.js'
import { predictionEvent, type Recorder, type Started } from './record.js'
import { RequestSignal } from './request-signal.js'
import { roundMs } from '../observe/json-text.js'

/** A configured shadow target, resolved at startup. */
export interface ShadowTarget {
  /** `model` or `model@version` as configured: the metric label, and the event's target when it failed. */
  readonly label: string
  readonly model: string
  readonly version: string | undefined
  readonly sampleRate: number
  readonly tolerance: Tolerance
  /** The target model's timeout. */
  readonly timeoutMs: number
  /** The target model's data plane under its shed and timeout (its batching, then predict). */
  readonly predict: PredictFn
}

/** One shadowed request: the primary's answer and the targets sampled for it. */
export interface ShadowJob {
  /** The primary model's id (the metric label). */
  readonly modelId: string
  readonly req: PredictRequest
  readonly result: PredictResult
  readonly start: Started
  readonly latencyMs: number
  readonly targets: readonly ShadowTarget[]
  /** Whether to record the prediction event (with its shadows) when they finished. */
  /** The listeners picked (once) for the primary's event; undefined when none takes it. */
  readonly listeners: readonly PredictionListener[] | undefined
}

export interface ShadowHooks {
  shadowed?(model: string, target: string, seconds: number, outcome: 'agreed' | 'disagreed' | 'error'): void
  shadowDropped?(model: string): void
}

export interface ShadowQueueOptions {
  /** Jobs waiting; one more is dropped and counted. */
  readonly capacity: number
  /** Jobs running at once. */
  readonly concurrency: number
  readonly recorder: Recorder
  readonly hooks: ShadowHooks
  readonly logger: Logger
}

const noop = (): void => {}

/**
 * Runs shadow predictions off the request path: a bounded FIFO of jobs (drop and count when full)
 * and a few jobs at a time. The first job of a burst starts on `setImmediate`, after the
 * microtasks that write the primary's response, so a shadow never delays it.
 *
 * A job's slot is held until every target's work has really ended, even past the target's timeout
 * (which is recorded as its error), so a stuck shadow target ties up at most `concurrency` slots
 * and the queue, never unbounded work.
 */
export class ShadowQueue {
  private readonly jobs: ShadowJob[] = []
  private running = 0
  private scheduled = false
  private closed = false
  private idle: (() => void) | undefined

  constructor(private readonly options: ShadowQueueOptions) {}

  /** Queues a job; false (and counted) when the queue is full or closing. */
  push(job: ShadowJob): boolean {
    if (this.closed || this.jobs.length >= this.options.capacity) {
      this.options.hooks.shadowDropped?.(job.modelId)
      return false
    }
    this.jobs.push(job)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.pump)
    }
    return true
  }

  /** Takes no new jobs, and resolves once the queued and running ones finished (or after `timeoutMs`). */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true
    if (this.running === 0 && this.jobs.length === 0) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve) => {
      this.idle = resolve
      timer = setTimeout(resolve, timeoutMs)
    })
    clearTimeout(timer)
  }

  private readonly pump = (): void => {
    this.scheduled = false
    while (this.running < this.options.concurrency && this.jobs.length > 0) {
      const job = this.jobs.shift() as ShadowJob
      this.running++
      this.run(job)
        .catch((err: unknown) => this.options.logger.error({ err, model_id: job.modelId }, 'shadow job failed'))
        .finally(this.finished)
    }
    if (this.running === 0 && this.jobs.length === 0) this.idle?.()
  }

  private readonly finished = (): void => {
    this.running--
    this.pump()
  }

  private async run(job: ShadowJob): Promise<void> {
    const runs = job.targets.map((t) => this.runTarget(t, job))
    const shadows = await Promise.all(runs.map((r) => r.record))
    // Primary and shadows recorded together, once every shadow answered or timed out.
    if (job.listeners) this.options.recorder.record(predictionEvent(job.req, job.result, job.start.at, job.latencyMs, shadows), job.listeners, job.req.bodyJson)
    await Promise.all(runs.map((r) => r.settled))
  }

  private runTarget(t: ShadowTarget, job: ShadowJob): { record: Promise<ShadowRecord>; settled: Promise<void> } {
    const { req } = job
    const signal = new RequestSignal()
    const t0 = performance.now()
    const work: Promise<PredictResult> = toPromise(() => t.predict({ modelId: t.model, modelVersion: t.version, features: req.features, requestId: req.requestId, parameters: req.parameters }, signal))
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ServekitError('prediction_timeout', `shadow ${t.label}: no answer within ${t.timeoutMs} ms (timeoutMs)`)
        signal.abort(error)
        reject(error)
      }, t.timeoutMs)
    })
    const record = Promise.race([work, deadline])
      .then(
        (res) => this.compared(t, job, res, performance.now() - t0),
        (err: unknown) => this.failed(t, job, err, performance.now() - t0),
      )
      .finally(() => clearTimeout(timer))
    return { record, settled: work.then(noop, noop) }
  }

  private compared(t: ShadowTarget, job: ShadowJob, res: PredictResult, ms: number): ShadowRecord {
    const primary = job.result.output
    const c = compareOutputs(primary, res.output, t.tolerance)
    this.options.hooks.shadowed?.(job.modelId, t.label, ms / 1000, c.equal ? 'agreed' : 'disagreed')
    return {
      target: `${res.modelId}@${res.modelVersion}`,
      output: res.output,
      error: null,
      latency_ms: roundMs(ms),
      agreed: c.equal,
      max_abs_diff: hasNumber(primary) && hasNumber(res.output) ? c.maxError : null,
    }
  }

  private failed(t: ShadowTarget, job: ShadowJob, err: unknown, ms: number): ShadowRecord {
    this.options.hooks.shadowed?.(job.modelId, t.label, ms / 1000, 'error')
    const error = isServekitError(err) ? { code: err.code, message: err.message } : { code: 'internal_error', message: err instanceof Error ? err.message : String(err) }
    return { target: t.label, output: null, error, latency_ms: roundMs(ms), agreed: false, max_abs_diff: null }
  }
}

/** Whether a JSON value holds a number anywhere. */
function hasNumber(v: unknown): boolean {
  if (typeof v === 'number') return true
  if (Array.isArray(v)) return v.some(hasNumber)
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasNumber)
  return false
}
