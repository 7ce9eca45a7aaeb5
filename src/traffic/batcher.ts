import type { PredictContext } from '../model/interface.js'
import { toPromise } from '../model/maybe-promise.js'
import { predictContext, type CallSignal, type PredictFn, type PredictRequest, type PredictResult } from '../model/predictor.js'
import type { LoadedVersion } from '../model/version-loader.js'
import type { ServekitError } from '../errors.js'
import { RequestSignal } from './request-signal.js'

export interface BatchingSettings {
  /** A batch is sent as soon as it has this many requests. */
  readonly maxBatchSize: number
  /** ... or this long after its first request arrived. */
  readonly maxDelayMs: number
}

/** The parts of a loaded version the batcher uses. */
export type BatchTarget = Pick<LoadedVersion, 'modelId' | 'version' | 'predict' | 'predictBatch' | 'inflight'>

export interface BatcherHooks<V extends BatchTarget = BatchTarget> {
  /** A predictBatch of `size` requests finished on `version` (the same hook the predictor calls). */
  predicted?(version: V, seconds: number, size: number): void
}

const NO_PARAMETERS: Readonly<Record<string, unknown>> = Object.freeze({})

/**
 * Dynamic batching: concurrent `predict` calls for the same version are collected for up to
 * `maxDelayMs` or `maxBatchSize` calls, then sent to the version's `predictBatch` in one call (one
 * `session.run` for ONNX). Each caller gets its own output or its own error: the version's
 * predictBatch validates each item apart, and when one error stands for several items (the model's
 * predictBatch threw), those items are retried one by one, so one bad request cannot fail the
 * requests it was batched with.
 *
 * Requests with `parameters` are not batched (one predictBatch call has one context). `resolve`
 * picks the version, so requests in one batch always go to the same version.
 */
export function withBatching<V extends BatchTarget>(settings: BatchingSettings, resolve: (req: PredictRequest) => V, hooks: BatcherHooks<V> = {}) {
  return (inner: PredictFn): PredictFn => {
    const open = new Map<V, Batch<V>>()
    const flush = (batch: Batch<V>): void => {
      if (open.get(batch.version) === batch) open.delete(batch.version)
      batch.send(hooks)
    }
    return (req, signal) => {
      if (req.parameters !== undefined) return inner(req, signal)
      if (signal.aborted) return Promise.reject(signal.reason)
      let version: V
      try {
        version = resolve(req)
      } catch (err) {
        return Promise.reject(err)
      }
      let batch = open.get(version)
      if (batch === undefined) {
        batch = new Batch(version)
        open.set(version, batch)
        batch.timer = setTimeout(flush, settings.maxDelayMs, batch)
      }
      const promise = batch.add(req.features, signal)
      if (batch.members.length >= settings.maxBatchSize) flush(batch)
      return promise
    }
  }
}

/** One request in a batch; its own abort listener (handleEvent), so no closure per request. */
class Member {
  /** Set once the batch was sent; until then an abort takes the member out. */
  running = false
  constructor(
    readonly batch: Batch<BatchTarget>,
    readonly features: unknown,
    readonly signal: CallSignal,
    readonly resolve: (r: PredictResult) => void,
    readonly reject: (err: unknown) => void,
  ) {}

  handleEvent(): void {
    if (!this.running) {
      this.batch.remove(this)
      this.reject(this.signal.reason)
    } else this.batch.memberGone()
  }
}

class Batch<V extends BatchTarget> {
  readonly members: Member[] = []
  timer: NodeJS.Timeout | undefined
  /** The batch's own signal: aborted when every caller in it went away. */
  private readonly signal = new RequestSignal()
  private live = 0
  private gone = 0

  constructor(readonly version: V) {}

  add(features: unknown, signal: CallSignal): Promise<PredictResult> {
    return new Promise((resolve, reject) => {
      const m = new Member(this, features, signal, resolve, reject)
      this.members.push(m)
      this.live++
      signal.addEventListener('abort', m)
    })
  }

  remove(m: Member): void {
    m.signal.removeEventListener('abort', m)
    const i = this.members.indexOf(m)
    if (i !== -1) this.members.splice(i, 1)
    this.live--
  }

  /** Every caller of a running batch went away: abort the batch's signal, the model may stop early. */
  memberGone(): void {
    if (++this.gone === this.live) this.signal.abort()
  }

  send(hooks: BatcherHooks<V>): void {
    clearTimeout(this.timer)
    const members = this.members
    if (members.length === 0) return
    for (const m of members) m.running = true
    const v = this.version
    const context = predictContext(NO_PARAMETERS, this.signal)
    // Counted like the predictor does, so a retired version is unloaded only after this batch.
    v.inflight++
    const started = performance.now()
    const measured = (): void => hooks.predicted?.(v, (performance.now() - started) / 1000, members.length)
    v.predictBatch(
      members.map((m) => m.features),
      context,
    )
      .then(
        (results) => {
          measured()
          return this.deliver(results, context)
        },
        (err: unknown) => {
          measured()
          for (const m of members) m.reject(err)
        },
      )
      .finally(() => {
        v.inflight--
        for (const m of members) m.signal.removeEventListener('abort', m)
      })
  }

  private async deliver(results: ReadonlyArray<{ output: unknown } | { error: ServekitError }>, context: PredictContext): Promise<void> {
    const v = this.version
    // An error object shared by several items means predictBatch itself threw: retry those alone.
    const seen = new Set<ServekitError>()
    const shared = new Set<ServekitError>()
    for (const r of results) if ('error' in r) (seen.has(r.error) ? shared : seen).add(r.error)
    const retries: Array<Promise<void>> = []
    this.members.forEach((m, i) => {
      const r = results[i]
      if (r === undefined) m.reject(new Error(`predictBatch gave no result for item ${i}`))
      else if (!('error' in r)) m.resolve({ output: r.output, modelId: v.modelId, modelVersion: v.version })
      else if (!shared.has(r.error)) m.reject(r.error)
      else {
        retries.push(
          toPromise(() => v.predict(m.features, predictContext(context.parameters, m.signal))).then(
            (output) => m.resolve({ output, modelId: v.modelId, modelVersion: v.version }),
            (err: unknown) => m.reject(err),
          ),
        )
      }
    })
    await Promise.all(retries)
  }
}
