import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../../src/config/load-config.js'

const models = { churn: { module: './churn.ts' }, eta: { module: './eta.ts' } }
const parse = (predictionLog: unknown) => validateConfig({ models, predictionLog }, 'servekit.config.ts').config.predictionLog

describe('config: predictionLog', () => {
  it('defaults to JSONL files in ./prediction-logs, every prediction, bounded buffer', () => {
    expect(validateConfig({ models }, 'servekit.config.ts').config.predictionLog).toEqual({
      enabled: true,
      sink: { type: 'jsonl', dir: './prediction-logs', maxBytes: 104_857_600, maxAgeMs: 3_600_000, maxTotalBytes: 1_073_741_824 },
      sampleRate: 1,
      models: {},
      bufferSize: 10_000,
      maxBatch: 1_000,
      flushIntervalMs: 1_000,
      retries: 3,
    })
  })

  it('fills each sink type’s defaults', () => {
    expect(parse({ sink: { type: 'jsonl', dir: '/var/log/preds' } }).sink).toEqual({ type: 'jsonl', dir: '/var/log/preds', maxBytes: 104_857_600, maxAgeMs: 3_600_000, maxTotalBytes: 1_073_741_824 })
    expect(parse({ sink: { type: 'http', url: 'https://collector.example/events' } }).sink).toEqual({ type: 'http', url: 'https://collector.example/events', timeoutMs: 5000, headers: {} })
    expect(parse({ sink: { type: 'redis', url: 'redis://127.0.0.1:6379' } }).sink).toEqual({ type: 'redis', url: 'redis://127.0.0.1:6379', stream: 'servekit:predictions', maxLen: 1_000_000, timeoutMs: 5000 })
    expect(parse({ sink: { type: 'stdout' } }).sink).toEqual({ type: 'stdout' })
  })

  it('takes a user sink object as it is', () => {
    const sink = { write: async () => {}, close: async () => {} }
    const parsed = parse({ sink: { type: 'custom', name: 'kafka', sink } }).sink
    expect(parsed).toEqual({ type: 'custom', name: 'kafka', sink })
    expect(parsed.type === 'custom' && parsed.sink).toBe(sink)
  })

  it.each([
    [{ sink: { type: 'custom', sink: { write: async () => {} } } }, 'predictionLog.sink.sink: must be an object with write(batch) and close() methods'],
    [{ sink: { type: 'kafka' } }, 'predictionLog.sink.type'],
    [{ sink: { type: 'http' } }, 'predictionLog.sink.url'],
    [{ sampleRate: 1.5 }, 'predictionLog.sampleRate'],
    [{ models: { churn: { sampleRate: -0.1 } } }, 'predictionLog.models.churn.sampleRate'],
    [{ models: { chrun: { sampleRate: 0.1 } } }, 'predictionLog.models.chrun: "chrun" is not a model of this service (models: churn, eta)'],
    [{ bufferSize: 0 }, 'predictionLog.bufferSize'],
    [{ sink: { type: 'jsonl', maxBytes: 10 } }, 'predictionLog.sink.maxBytes'],
    [{ flushMs: 10 }, 'predictionLog'],
  ])('refuses %j, naming the field', (predictionLog, field) => {
    expect(() => parse(predictionLog)).toThrow(field)
  })
})
