import { describe, expect, it } from 'vitest'
import type { PredictionListener } from '../../../src/observe/prediction-event.js'
import { createLogger } from '../../../src/observe/logger.js'
import { Recorder, withEvents } from '../../../src/traffic/record.js'

const logger = createLogger({ level: 'silent', pretty: false })
const signal = new AbortController().signal

describe('Recorder', () => {
  it('asks each listener once per prediction, so a sampling wants() keeps its rate', async () => {
    let asked = 0
    let recorded = 0
    // Takes every other prediction, as a 50% sampler would.
    const sampler: PredictionListener = { wants: () => ++asked % 2 === 0, record: () => recorded++, close: async () => {} }
    const predict = withEvents(new Recorder([sampler], logger))(async (req) => ({ output: 1, modelId: req.modelId, modelVersion: '1' }))
    for (let i = 0; i < 100; i++) await predict({ modelId: 'm', features: {}, requestId: String(i) }, signal)
    expect(asked).toBe(100)
    expect(recorded).toBe(50)
  })

  it('keeps serving when a listener throws', async () => {
    const broken: PredictionListener = { wants: () => true, record: () => { throw new Error('sink bug') }, close: async () => {} }
    const predict = withEvents(new Recorder([broken], logger))(async (req) => ({ output: 2, modelId: req.modelId, modelVersion: '1' }))
    expect((await predict({ modelId: 'm', features: {}, requestId: 'r' }, signal)).output).toBe(2)
  })
})
