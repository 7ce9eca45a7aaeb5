import { describe, expect, it } from 'vitest'
import type { PredictResult } from '../../../src/model/predictor.js'
import { createLogger } from '../../../src/observe/logger.js'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { Recorder, started } from '../../../src/traffic/record.js'
import { ShadowQueue, type ShadowJob, type ShadowTarget } from '../../../src/traffic/shadow-queue.js'

const logger = createLogger({ level: 'silent', pretty: false })

function setup(capacity: number, concurrency: number, predict: ShadowTarget['predict'], timeoutMs = 1000) {
  const events: PredictionEvent[] = []
  const counts = { dropped: 0, outcomes: [] as string[] }
  const recorder = new Recorder([{ wants: () => true, record: (e) => events.push(e), close: async () => {} }], logger)
  const queue = new ShadowQueue({ capacity, concurrency, recorder, logger, hooks: { shadowDropped: () => counts.dropped++, shadowed: (_m, _t, _s, o) => counts.outcomes.push(o) } })
  const target: ShadowTarget = { label: 'm@2', model: 'm', version: '2', sampleRate: 1, tolerance: { absolute: 0.01 }, timeoutMs, predict }
  const result: PredictResult = { output: { score: 0.5 }, modelId: 'm', modelVersion: '1' }
  const job = (i: number): ShadowJob => ({ modelId: 'm', req: { modelId: 'm', features: { i }, requestId: `r${i}` }, result, start: started(), latencyMs: 1, targets: [target], listeners: recorder.listeners })
  return { events, counts, queue, job }
}

describe('ShadowQueue', () => {
  it('compares within tolerance and records the primary with its shadow', async () => {
    const { events, counts, queue, job } = setup(10, 2, async () => ({ output: { score: 0.505 }, modelId: 'm', modelVersion: '2' }))
    expect(queue.push(job(1))).toBe(true)
    await queue.close(1000)
    expect(counts.outcomes).toEqual(['agreed'])
    expect(events[0]).toMatchObject({ request_id: 'r1', output: { score: 0.5 }, shadows: [{ target: 'm@2', output: { score: 0.505 }, agreed: true, error: null }] })
    expect(events[0]!.shadows[0]!.max_abs_diff).toBeCloseTo(0.005)
  })

  it('drops and counts jobs beyond its capacity, so memory stays bounded', async () => {
    const release: Array<() => void> = []
    const { counts, queue, job } = setup(2, 1, () => new Promise((r) => release.push(() => r({ output: 1, modelId: 'm', modelVersion: '2' }))))
    expect([1, 2, 3, 4].map((i) => queue.push(job(i)))).toEqual([true, true, false, false])
    expect(counts.dropped).toBe(2)
    await new Promise((r) => setImmediate(r))
    // One job runs; one more fits in the queue again.
    expect(queue.push(job(5))).toBe(true)
    expect(queue.push(job(6))).toBe(false)
    const closed = queue.close(5000)
    // Jobs 1, 2 and 5 run one at a time: answer each as it starts.
    for (let answered = 0; answered < 3; ) {
      const next = release.shift()
      if (next) {
        next()
        answered++
      }
      await new Promise((r) => setImmediate(r))
    }
    await closed
    expect(counts.outcomes).toEqual(['disagreed', 'disagreed', 'disagreed'])
  })

  it('records a timed-out shadow as an error, and holds its slot until the work really ends', async () => {
    let finish: (() => void) | undefined
    let calls = 0
    const { events, queue, job } = setup(10, 1, (_req, signal) => {
      calls++
      return new Promise((resolve) => (finish = () => resolve({ output: signal.aborted ? 'late' : 'on time', modelId: 'm', modelVersion: '2' })))
    }, 10)
    queue.push(job(1))
    queue.push(job(2))
    while (events.length === 0) await new Promise((r) => setTimeout(r, 5))
    expect(events[0]!.shadows[0]).toMatchObject({ error: { code: 'prediction_timeout' }, agreed: false })
    // The second job waits: the first target has not really finished.
    await new Promise((r) => setImmediate(r))
    expect(calls).toBe(1)
    finish?.()
    while (calls < 2) await new Promise((r) => setImmediate(r))
    finish?.()
    await queue.close(1000)
  })
})
