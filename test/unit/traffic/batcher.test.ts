import { describe, expect, it } from 'vitest'
import { ServekitError } from '../../../src/errors.js'
import type { MaybePromise } from '../../../src/model/maybe-promise.js'
import type { PredictRequest } from '../../../src/model/predictor.js'
import { withBatching, type BatchTarget } from '../../../src/traffic/batcher.js'

const never = new AbortController().signal

/** A version whose predictBatch doubles x, refuses x < 0 alone (like a schema), and throws for the whole call on x = 13. */
function version(name: string) {
  const batches: number[][] = []
  const v = {
    modelId: 'm',
    version: name,
    inflight: 0,
    inflightSeen: [] as number[],
    batches,
    predict: async (f: unknown) => (f as { x: number }).x * 2,
    predictBatch: async (list: readonly unknown[]) => {
      const xs = list.map((f) => (f as { x: number }).x)
      batches.push(xs)
      v.inflightSeen.push(v.inflight)
      if (xs.includes(13)) {
        const error = new ServekitError('prediction_failed', 'unlucky batch')
        return xs.map(() => ({ error }))
      }
      return xs.map((x) => (x < 0 ? { error: new ServekitError('invalid_request', `x=${x} is negative`) } : { output: x * 2 }))
    },
  }
  return v satisfies BatchTarget
}

function setup(settings: { maxBatchSize: number; maxDelayMs: number }) {
  const versions = { '1': version('1'), '2': version('2') }
  const sizes: number[] = []
  const unbatched: PredictRequest[] = []
  const predict = withBatching(settings, (req) => versions[(req.modelVersion ?? '1') as '1' | '2'], { predicted: (_v, _s, n) => sizes.push(n) })(async (req) => {
    unbatched.push(req)
    return { output: 'unbatched', modelId: 'm', modelVersion: '1' }
  })
  const call = (x: number, extra: Partial<PredictRequest> = {}, signal = never) => predict({ modelId: 'm', features: { x }, requestId: `r${x}`, ...extra }, signal)
  return { versions, sizes, unbatched, call }
}

const outcome = (p: MaybePromise<{ output: unknown }>) => Promise.resolve(p).then((r) => r.output, (e: Error) => (e.name === 'ServekitError' ? (e as ServekitError).code : e.name))

describe('withBatching', () => {
  it('groups concurrent calls into predictBatch calls of at most maxBatchSize, each caller getting its own output', async () => {
    const { versions, sizes, call } = setup({ maxBatchSize: 4, maxDelayMs: 5 })
    const outputs = await Promise.all(Array.from({ length: 10 }, (_, x) => call(x)))
    expect(outputs.map((o) => o.output)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    expect(outputs[3]).toEqual({ output: 6, modelId: 'm', modelVersion: '1' })
    expect(versions['1'].batches).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
    expect(sizes).toEqual([4, 4, 2])
    // The version counts the batch as in flight while it runs, so it is not unloaded under it.
    expect(versions['1'].inflightSeen.every((n) => n >= 1)).toBe(true)
    await new Promise((r) => setImmediate(r))
    expect(versions['1'].inflight).toBe(0)
  })

  it('sends a lone call after maxDelayMs, alone', async () => {
    const { versions, call } = setup({ maxBatchSize: 64, maxDelayMs: 1 })
    expect((await call(21)).output).toBe(42)
    expect(versions['1'].batches).toEqual([[21]])
  })

  it('never mixes versions in one batch', async () => {
    const { versions, call } = setup({ maxBatchSize: 8, maxDelayMs: 5 })
    await Promise.all([call(1), call(2, { modelVersion: '2' }), call(3), call(4, { modelVersion: '2' })])
    expect(versions['1'].batches).toEqual([[1, 3]])
    expect(versions['2'].batches).toEqual([[2, 4]])
  })

  it("gives an item's own error to its caller only", async () => {
    const { call } = setup({ maxBatchSize: 3, maxDelayMs: 5 })
    expect(await Promise.all([call(1), call(-1), call(2)].map(outcome))).toEqual([2, 'invalid_request', 4])
  })

  it('retries alone the items of a batch that failed as a whole, so one request cannot fail the others', async () => {
    const { versions, call } = setup({ maxBatchSize: 3, maxDelayMs: 5 })
    versions['1'].predict = async (f: unknown) => {
      const x = (f as { x: number }).x
      if (x === 13) throw new ServekitError('prediction_failed', 'unlucky alone too')
      return x * 2
    }
    expect(await Promise.all([call(1), call(13), call(2)].map(outcome))).toEqual([2, 'prediction_failed', 4])
  })

  it('takes a caller that went away out of a batch not yet sent', async () => {
    const { versions, call } = setup({ maxBatchSize: 3, maxDelayMs: 5 })
    const leaving = new AbortController()
    const gone = call(2, {}, leaving.signal)
    leaving.abort()
    expect(await outcome(gone)).toBe('AbortError')
    expect((await call(1)).output).toBe(2)
    expect(versions['1'].batches).toEqual([[1]])
  })

  it('does not batch calls with parameters (one predictBatch call has one context)', async () => {
    const { unbatched, call } = setup({ maxBatchSize: 3, maxDelayMs: 5 })
    expect((await call(1, { parameters: { margin: true } })).output).toBe('unbatched')
    expect(unbatched).toHaveLength(1)
  })

  it('answers errors from resolving the version (unknown model, not loaded) at once', async () => {
    const predict = withBatching({ maxBatchSize: 2, maxDelayMs: 5 }, () => {
      throw new ServekitError('not_ready', 'still loading')
    })(async () => ({ output: 0, modelId: 'm', modelVersion: '1' }))
    expect(await outcome(predict({ modelId: 'm', features: {}, requestId: 'r' }, never))).toBe('not_ready')
  })
})
