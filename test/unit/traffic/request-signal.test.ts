import { describe, expect, it } from 'vitest'
import { predictContext } from '../../../src/model/predictor.js'
import { RequestSignal } from '../../../src/traffic/request-signal.js'

describe('RequestSignal', () => {
  it('tells each listener once, and not those removed', () => {
    const s = new RequestSignal()
    const heard: string[] = []
    const a = { handleEvent: () => heard.push('a') }
    const b = { handleEvent: () => heard.push('b') }
    s.addEventListener('abort', a)
    s.addEventListener('abort', b)
    s.removeEventListener('abort', b)
    s.abort()
    s.abort(new Error('again'))
    expect(heard).toEqual(['a'])
    expect(s.aborted).toBe(true)
    expect((s.reason as Error).name).toBe('AbortError')
  })

  it('makes a real AbortSignal that follows it, before or after the abort', () => {
    const early = new RequestSignal()
    const real = early.toAbortSignal()
    expect(real).toBeInstanceOf(AbortSignal)
    const reason = new Error('timeout')
    early.abort(reason)
    expect(real.aborted).toBe(true)
    expect(real.reason).toBe(reason)
    expect(early.toAbortSignal()).toBe(real)

    const late = new RequestSignal()
    late.abort(reason)
    expect(late.toAbortSignal().reason).toBe(reason)
  })
})

describe('predictContext', () => {
  it("makes the model's AbortSignal only when the model reads context.signal", () => {
    const s = new RequestSignal()
    let made = 0
    const make = s.toAbortSignal.bind(s)
    s.toAbortSignal = () => (made++, make())
    const context = predictContext({}, s)
    expect(made).toBe(0)
    const signal = context.signal
    expect(signal).toBeInstanceOf(AbortSignal)
    expect(context.signal).toBe(signal)
    expect(made).toBe(1)
    s.abort()
    expect(signal.aborted).toBe(true)
  })

  it('passes a real AbortSignal through as it is', () => {
    const signal = new AbortController().signal
    expect(predictContext({}, signal).signal).toBe(signal)
  })
})
