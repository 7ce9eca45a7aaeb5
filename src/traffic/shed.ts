import { ServekitError } from '../errors.js'
import type { MaybePromise } from '../model/maybe-promise.js'
import type { CallSignal } from '../model/predictor.js'

type Call<Req, Res> = (req: Req, signal: CallSignal) => MaybePromise<Res>

export interface ShedLimits {
  /** Calls running at once. */
  readonly max: number
  /** Calls waiting for a slot; one more is refused with `overloaded`. */
  readonly queue: number
}

/**
 * Bounded concurrency with a bounded FIFO queue: beyond both, `overloaded` at once (503 with
 * Retry-After), so memory stays bounded and accepted requests wait for at most `queue / max`
 * predictions ahead of them.
 *
 * A slot is released when the call below settles, not when a caller stops waiting (withTimeout
 * sits above this): a model stuck past its timeout keeps its slot, so stuck work can never exceed
 * `max`. A queued call whose signal aborts (timeout, client gone) leaves the queue at once.
 */
export function withShed(limits: ShedLimits, label: string, retryAfterSeconds: number, onQueue?: (depth: number) => void) {
  const overloaded = new ServekitError('overloaded', `${label} is at its limit: ${limits.max} running, ${limits.queue} waiting (concurrency.max, concurrency.queue); retry later`, { details: { retryAfterSeconds } })
  const limiter = new Limiter(limits, overloaded, onQueue)
  const wrap = <Req, Res>(inner: Call<Req, Res>): Call<Req, Res> => (req, signal) => limiter.run(inner, req, signal)
  return Object.assign(wrap, { limiter })
}

/** A waiting call: a node of the queue's doubly linked list, and its own abort listener. */
class Waiter {
  prev: Waiter | undefined
  next: Waiter | undefined
  constructor(
    readonly limiter: Limiter,
    readonly signal: CallSignal,
    readonly resolve: () => void,
    readonly reject: (err: unknown) => void,
  ) {}

  handleEvent(): void {
    this.limiter.drop(this)
    this.reject(this.signal.reason)
  }
}

export class Limiter {
  /** Calls holding a slot (running, or handed a slot and about to run). */
  active = 0
  /** Calls in the queue. */
  waiting = 0
  private head: Waiter | undefined
  private tail: Waiter | undefined
  private readonly releaseSlot = (): void => this.release()

  constructor(
    private readonly limits: ShedLimits,
    /** One error object for every refusal: refusing must stay cheap under overload (it is never logged). */
    private readonly overloaded: ServekitError,
    /** Told the queue's length when it changes (a gauge); never called while nothing queues. */
    private readonly onQueue?: (depth: number) => void,
  ) {}

  run<Req, Res>(inner: Call<Req, Res>, req: Req, signal: CallSignal): MaybePromise<Res> {
    if (this.active < this.limits.max) {
      this.active++
      return this.start(inner, req, signal)
    }
    if (this.waiting >= this.limits.queue) throw this.overloaded
    if (signal.aborted) throw signal.reason
    return new Promise<void>((resolve, reject) => this.enqueue(new Waiter(this, signal, resolve, reject))).then(() => this.start(inner, req, signal))
  }

  /** Runs the call in its slot; a synchronous answer frees the slot at once, a promise when it settles. */
  private start<Req, Res>(inner: Call<Req, Res>, req: Req, signal: CallSignal): MaybePromise<Res> {
    let pending: MaybePromise<Res>
    try {
      pending = inner(req, signal)
    } catch (err) {
      this.release()
      throw err
    }
    if (pending instanceof Promise) return pending.finally(this.releaseSlot)
    this.release()
    return pending
  }

  /** Hands the slot to the oldest waiter, or frees it. */
  private release(): void {
    const next = this.head
    if (next === undefined) {
      this.active--
      return
    }
    this.drop(next)
    next.resolve()
  }

  private enqueue(w: Waiter): void {
    w.prev = this.tail
    if (this.tail) this.tail.next = w
    else this.head = w
    this.tail = w
    this.waiting++
    this.onQueue?.(this.waiting)
    w.signal.addEventListener('abort', w)
  }

  /** Unlinks a waiter (handed a slot, or aborted). */
  drop(w: Waiter): void {
    w.signal.removeEventListener('abort', w)
    if (w.prev) w.prev.next = w.next
    else this.head = w.next
    if (w.next) w.next.prev = w.prev
    else this.tail = w.prev
    w.prev = w.next = undefined
    this.waiting--
    this.onQueue?.(this.waiting)
  }
}
