import { describe, expect, it } from 'vitest'
import type { ServekitError } from '../../../src/errors.js'
import { toPromise, type MaybePromise } from '../../../src/model/maybe-promise.js'
import type { CallSignal } from '../../../src/model/predictor.js'
import { withShed } from '../../../src/traffic/shed.js'
import { withTimeout } from '../../../src/traffic/with-timeout.js'

const never = new AbortController().signal

/** A call that settles only when the test says so, and shows the signal it got. */
function controllable() {
  const calls: Array<{ req: string; signal: CallSignal; finish: (v?: string) => void; fail: (e: unknown) => void }> = []
  const call = (req: string, signal: CallSignal) =>
    new Promise<string>((resolve, reject) => calls.push({ req, signal, finish: (v) => resolve(v ?? req), fail: reject }))
  return { calls, call }
}

/** What a call answered: 'ok' or its error's code, whether it threw at once or rejected later. */
const code = (call: () => MaybePromise<unknown>) => toPromise(call).then(() => 'ok', (e: Error) => (e.name === 'ServekitError' ? (e as ServekitError).code : e.name))

describe('withTimeout', () => {
  it('passes the answer through when it comes in time', async () => {
    const predict = withTimeout(1000, 'model "m"')(async (req: string) => `${req}!`)
    expect(await predict('x', never)).toBe('x!')
  })

  it('answers prediction_timeout and aborts the signal of the call below', async () => {
    const { calls, call } = controllable()
    const err = await toPromise(() => withTimeout(10, 'model "m"')(call)('x', never)).catch((e: ServekitError) => e)
    expect(err).toMatchObject({ code: 'prediction_timeout', message: 'model "m": no answer within 10 ms (timeoutMs)' })
    expect(calls[0]!.signal.aborted).toBe(true)
    expect(calls[0]!.signal.reason).toBe(err)
    calls[0]!.finish() // a late answer is ignored
  })

  it("forwards the caller's abort (client gone) without answering in its place", async () => {
    const { calls, call } = controllable()
    const caller = new AbortController()
    const pending = withTimeout(10_000, 'model "m"')(call)('x', caller.signal)
    caller.abort()
    expect(calls[0]!.signal.aborted).toBe(true)
    calls[0]!.fail(new Error('stopped early'))
    await expect(pending).rejects.toThrow('stopped early')
  })
})

describe('withShed', () => {
  it('runs up to max at once, queues up to queue, and refuses the rest with overloaded and Retry-After', async () => {
    const { calls, call } = controllable()
    const depths: number[] = []
    const shed = withShed({ max: 2, queue: 1 }, 'model "m"', 3, (d) => depths.push(d))
    const predict = shed(call)
    const running = [predict('a', never), predict('b', never)]
    const queued = predict('c', never)
    const refused = await toPromise(() => predict('d', never)).catch((e: ServekitError) => e)
    expect(refused).toMatchObject({ code: 'overloaded', details: { retryAfterSeconds: 3 } })
    expect(calls.map((c) => c.req)).toEqual(['a', 'b'])
    calls[0]!.finish()
    expect(await running[0]).toBe('a')
    // The freed slot went to the queued call, first in first out.
    expect(calls.map((c) => c.req)).toEqual(['a', 'b', 'c'])
    calls[1]!.finish()
    calls[2]!.finish()
    expect(await Promise.all([running[1], queued])).toEqual(['b', 'c'])
    expect(depths).toEqual([1, 0])
    expect(shed.limiter).toMatchObject({ active: 0, waiting: 0 })
  })

  it('takes a queued call whose signal aborts out of the queue', async () => {
    const { calls, call } = controllable()
    const shed = withShed({ max: 1, queue: 1 }, 'model "m"', 1)
    const predict = shed(call)
    const first = predict('a', never)
    const leaving = new AbortController()
    const queued = predict('b', leaving.signal)
    leaving.abort()
    expect(await code(() => queued)).toBe('AbortError')
    expect(shed.limiter.waiting).toBe(0)
    const next = predict('c', never) // queued in b's place, not refused
    calls[0]!.finish()
    await first
    calls[1]!.finish()
    expect(await next).toBe('c')
    expect(calls.map((c) => c.req)).toEqual(['a', 'c'])
  })

  it('keeps the slot of a call that timed out until it really ends, so stuck work never exceeds max', async () => {
    const { calls, call } = controllable()
    const shed = withShed({ max: 1, queue: 0 }, 'model "m"', 1)
    // The composed order: timeout outside, shed inside.
    const predict = withTimeout(10, 'model "m"')(shed(call))
    expect(await code(() => predict('stuck', never))).toBe('prediction_timeout')
    expect(await code(() => predict('next', never))).toBe('overloaded')
    calls[0]!.finish()
    await new Promise((r) => setImmediate(r))
    const after = predict('after', never)
    calls[1]!.finish()
    expect(await after).toBe('after')
  })
})

describe('a synchronous call (a synchronous model)', () => {
  it('passes through timeout and shed in the same turn: a value, not a promise, and its slot free at once', () => {
    const seen: CallSignal[] = []
    const shed = withShed({ max: 1, queue: 0 }, 'model "m"', 1)
    const predict = withTimeout(10, 'model "m"')(
      shed((req: string, signal: CallSignal) => {
        seen.push(signal)
        return `${req}!`
      }),
    )
    const answer = predict('x', never)
    expect(answer).toBe('x!')
    expect(shed.limiter).toMatchObject({ active: 0, waiting: 0 })
    // With max 1 and no queue, a second call right after would be refused if the slot were still held.
    expect(predict('y', never)).toBe('y!')
    expect(seen).toHaveLength(2)
    expect(seen[0]!.aborted).toBe(false)
  })

  it('throws its error synchronously and frees the slot', () => {
    const shed = withShed({ max: 1, queue: 0 }, 'model "m"', 1)
    const predict = withTimeout(10, 'model "m"')(
      shed((req: string): string => {
        throw new Error(`no ${req}`)
      }),
    )
    expect(() => predict('x', never)).toThrow('no x')
    expect(shed.limiter).toMatchObject({ active: 0, waiting: 0 })
    expect(() => predict('y', never)).toThrow('no y')
  })

  it('refuses synchronously with overloaded when every slot is held by pending work', async () => {
    const { calls, call } = controllable()
    const predict = withShed({ max: 1, queue: 0 }, 'model "m"', 1)(call)
    const first = predict('a', never)
    expect(() => predict('b', never)).toThrow(expect.objectContaining({ code: 'overloaded' }))
    calls[0]!.finish()
    expect(await first).toBe('a')
  })
})

