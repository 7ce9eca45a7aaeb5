import { ServekitError } from '../errors.js'
import type { MaybePromise } from '../model/maybe-promise.js'
import type { CallSignal } from '../model/predictor.js'
import { RequestSignal } from './request-signal.js'

type Call<Req, Res> = (req: Req, signal: CallSignal) => MaybePromise<Res>

/**
 * Answers `prediction_timeout` when the call below has not settled within `ms`, and aborts the
 * signal the call below (and the model, as `context.signal`) received. Work that ignores the signal
 * keeps running in the background; what is below (shed.ts) keeps its concurrency slot until it ends.
 *
 * A call that answers synchronously (a synchronous model) cannot be interrupted by a timer and needs
 * none: the deadline is armed, for the time left, only when the call below returns a promise.
 *
 * The caller's own signal (a client that went away) is forwarded too, but does not settle the call:
 * queued and batched work drops out at once, and running work ends when it honours the signal.
 */
export function withTimeout(ms: number, label: string) {
  return <Req, Res>(inner: Call<Req, Res>): Call<Req, Res> =>
    (req, outer) => {
      const started = performance.now()
      const signal = new RequestSignal()
      if (outer.aborted) signal.abort(outer.reason)
      const pending = inner(req, signal)
      if (!(pending instanceof Promise)) return pending
      return new Promise<Res>((resolve, reject) => {
        const call = new Deadline<Res>(resolve, reject, signal, outer, Math.max(0, ms - (performance.now() - started)), ms, label)
        pending.then(
          (value) => {
            if (call.settle()) resolve(value)
          },
          (err: unknown) => {
            if (call.settle()) reject(err)
          },
        )
      })
    }
}

/** One pending call's deadline. Listens to the caller's signal as an object (handleEvent), so no closure per call. */
class Deadline<Res> {
  private readonly timer: NodeJS.Timeout
  private done = false

  constructor(
    readonly resolve: (value: Res) => void,
    readonly reject: (err: unknown) => void,
    /** What the call below got: aborted on expiry, or when the caller's is. */
    readonly signal: RequestSignal,
    private readonly outer: CallSignal,
    remainingMs: number,
    readonly ms: number,
    readonly label: string,
  ) {
    this.timer = setTimeout(expire, remainingMs, this)
    if (!outer.aborted) outer.addEventListener('abort', this)
  }

  /** The caller went away: pass it on. */
  handleEvent(): void {
    this.signal.abort(this.outer.reason)
  }

  /** Marks the call answered; false when it already was (by the timer). */
  settle(): boolean {
    if (this.done) return false
    this.done = true
    clearTimeout(this.timer)
    this.outer.removeEventListener('abort', this)
    return true
  }
}

function expire<Res>(call: Deadline<Res>): void {
  if (!call.settle()) return
  const error = new ServekitError('prediction_timeout', `${call.label}: no answer within ${call.ms} ms (timeoutMs)`)
  call.reject(error)
  call.signal.abort(error)
}
