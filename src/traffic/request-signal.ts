import type { CallSignal } from '../model/predictor.js'

type Listener = { handleEvent(): void }

/**
 * A request's cancellation, as cheap as a plain object: an array of listeners and a flag.
 *
 * Why not an AbortSignal: on Node 20 creating one costs ~15 µs and GC work (`createAbortSignal`
 * changes the new object's prototype), more than routing, predict and the response of a small model
 * together; the timeout and the disconnect watch would need one each, on every request. A real
 * AbortSignal is made only when asked for (`toAbortSignal`), which the predictor does only when the
 * model reads `context.signal`.
 */
export class RequestSignal implements CallSignal {
  aborted = false
  reason: unknown = undefined
  private listeners: Listener[] | undefined
  private controller: AbortController | undefined

  /** Aborts with `reason` (an AbortError by default) and tells the listeners, once. */
  abort(reason?: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError')
    this.controller?.abort(this.reason)
    const listeners = this.listeners
    this.listeners = undefined
    if (listeners) for (const l of listeners) l.handleEvent()
  }

  addEventListener(_type: 'abort', listener: Listener): void {
    if (!this.aborted) (this.listeners ??= []).push(listener)
  }

  removeEventListener(_type: 'abort', listener: Listener): void {
    const list = this.listeners
    if (list === undefined) return
    const i = list.lastIndexOf(listener)
    if (i !== -1) list.splice(i, 1)
  }

  toAbortSignal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }
}
