import { describe, expect, it } from 'vitest'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { PredictionLog } from '../../../src/observe/prediction-log.js'
import { encodeLines, eventJson, forEachLine, JsonLinesEncoder, type JsonLines } from '../../../src/observe/sinks/json-lines.js'
import type { JsonSink } from '../../../src/observe/sinks/sink.js'

const event = (i: number, features: unknown = { x: i, y: 0.5 }, output: unknown = { y: i * 2 }): PredictionEvent => ({
  ts: new Date(1_700_000_000_000 + i).toISOString(),
  request_id: `r-${i}`,
  model_id: 'churn',
  model_version: '1',
  arm: null,
  features,
  output,
  latency_ms: 0.5,
  shadows: [],
})

const linesOf = (batch: JsonLines): string[] => {
  const lines: string[] = []
  forEachLine(batch, (line) => lines.push(line.toString()))
  return lines
}

describe('eventJson', () => {
  it('is JSON.stringify of the event, also when it copies the features from the request body', () => {
    const e = { ...event(1, { a: 1.5, b: [1, 2], c: 'é "q"' }), arm: 'b', shadows: [{ target: 'm@2', output: 3, error: null, latency_ms: 1, agreed: true, max_abs_diff: 0 }] }
    const body = JSON.stringify({ model_id: 'churn', features: e.features, request_id: 'r-1' })
    expect(eventJson(e)).toBe(JSON.stringify(e))
    expect(eventJson(e, body)).toBe(JSON.stringify(e))
  })

  it('is JSON.stringify of the event whatever its ids, arm and latency hold', () => {
    const odd = ['', 'a"b', 'tab\t', 'é€🙂', '\u2028', '\ud800', 'x'.repeat(300)]
    for (const s of odd) {
      const e = { ...event(1), request_id: s, model_id: s, model_version: s, arm: s }
      expect(eventJson(e, '{"features":{"x":1,"y":0.5}}')).toBe(JSON.stringify(e))
    }
    for (const latency_ms of [0, 0.001, 1.5, 2, 0.123456789, 1e-7, 12_345.678, Number.NaN]) {
      const e = { ...event(1), latency_ms }
      expect(eventJson(e, '{"features":{"x":1,"y":0.5}}')).toBe(JSON.stringify(e))
    }
  })

  it('writes the features as the client spelled them when the body has them compact', () => {
    const e = event(1, { a: 1, b: 1000 })
    const line = eventJson(e, '{"model_id":"churn","features":{"a":1.0,"b":1e3}}')
    expect(line).toContain('"features":{"a":1.0,"b":1e3},')
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(e)))
  })

  it('encodes the features when the body has whitespace in them, so the line stays one line', () => {
    const e = event(1, { a: 1 })
    expect(eventJson(e, '{"model_id":"churn",\n"features": {\n  "a": 1.0\n}}')).toBe(JSON.stringify(e))
  })

  it('leaves out an output JSON cannot hold, and survives BigInts and cycles, as without a body', () => {
    const body = '{"features":{"x":1}}'
    expect(eventJson(event(1, { x: 1 }, undefined), body)).toBe(JSON.stringify(event(1, { x: 1 }, undefined)))
    const cyclic: Record<string, unknown> = { n: 10n }
    cyclic['self'] = cyclic
    for (const b of [undefined, body]) expect(JSON.parse(eventJson(event(1, { x: 1 }, cyclic), b)).output).toEqual({ n: '10', self: '[Circular]' })
  })
})

describe('JsonLinesEncoder', () => {
  it('gives back every line, byte for byte, across chunk boundaries and multi-byte characters', () => {
    const encoder = new JsonLinesEncoder()
    const texts = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, note: ['é', '€🙂', 'x'.repeat(300), '\u2028'][i % 4]!.repeat(i % 97) }))
    texts[1000] = JSON.stringify({ big: '€'.repeat(200_000) })
    for (const t of texts) encoder.add(t)
    expect(encoder.length).toBe(3000)
    const batch = encoder.take(Infinity)!
    expect(batch.count).toBe(3000)
    expect(batch.chunks.length).toBeGreaterThan(3)
    expect(linesOf(batch)).toEqual(texts)
    expect(encoder.length).toBe(0)
    expect(encoder.take(Infinity)).toBeUndefined()
  })

  it('hands out whole chunks of at most maxLines lines, oldest first, at least one chunk', () => {
    const encoder = new JsonLinesEncoder(10)
    for (let i = 0; i < 35; i++) encoder.add(`{"i":${i}}`)
    const first = encoder.take(25)!
    expect(first.count).toBe(20)
    expect(linesOf(first)).toEqual(Array.from({ length: 20 }, (_, i) => `{"i":${i}}`))
    expect(encoder.take(5)!.count).toBe(10)
    expect(linesOf(encoder.take(100)!)).toEqual(Array.from({ length: 5 }, (_, i) => `{"i":${30 + i}}`))
  })

  it('reuses the chunks of a delivered batch', () => {
    const encoder = new JsonLinesEncoder()
    encoder.add('{"a":1}')
    const batch = encoder.take(Infinity)!
    encoder.recycle(batch)
    encoder.add('{"b":2}')
    const next = encoder.take(Infinity)!
    expect(next.chunks[0]!.buffer).toBe(batch.chunks[0]!.buffer)
    expect(linesOf(next)).toEqual(['{"b":2}'])
  })

  it('encodeLines: events as one batch', () => {
    const events = [event(0), event(1)]
    const batch = encodeLines(events)
    expect(batch.count).toBe(2)
    expect(linesOf(batch).map((l) => JSON.parse(l))).toEqual(events)
    expect(encodeLines([])).toEqual({ chunks: [], count: 0 })
  })
})

describe('PredictionLog with a sink of JSON lines', () => {
  it('does not reuse the buffers of a batch whose first attempt failed (a client library may still hold them)', async () => {
    const kept: Array<{ view: Buffer; text: string }> = []
    let attempts = 0
    const written: string[] = []
    const sink: JsonSink = {
      async writeJson(batch) {
        attempts++
        if (attempts === 1) {
          // As a timed-out write still queued in a client would: keep the views, then fail.
          for (const view of batch.chunks) kept.push({ view, text: view.toString() })
          throw new Error('timeout')
        }
        written.push(...linesOf(batch))
      },
      write: async () => {},
      close: async () => {},
    }
    const log = new PredictionLog({ sink, sinkName: 'test', sampleRate: 1, bufferSize: 10_000, maxBatch: 100, flushIntervalMs: 3_600_000, retries: 2, retryDelayMs: 1 })
    for (let i = 0; i < 100; i++) log.record(event(i))
    await log.flush()
    // Many more batches, each delivered on its first attempt and its chunks reused.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) log.record(event(1000 + round * 100 + i))
      await log.flush()
    }
    await log.close()
    expect(written).toHaveLength(2100)
    for (const k of kept) expect(k.view.toString()).toBe(k.text)
  })

  it('drops and counts as failed an event JSON cannot encode, without throwing out of the encoding turn', async () => {
    const lines: string[] = []
    const sink: JsonSink = { writeJson: async (batch) => void lines.push(...linesOf(batch)), write: async () => {}, close: async () => {} }
    const log = new PredictionLog({ sink, sinkName: 'test', sampleRate: 1, bufferSize: 100, maxBatch: 100, flushIntervalMs: 3_600_000, retries: 0 })
    const hostile = { toJSON: () => { throw new Error('no JSON for you') } }
    log.record(event(1))
    log.record(event(2, { x: 1 }, hostile), '{"features":{"x":1}}')
    log.record(event(3))
    // The encoding runs in the next check phase, outside any request: it must not throw there.
    await new Promise((r) => setImmediate(r))
    await log.close()
    expect(lines.map((l) => JSON.parse(l).request_id)).toEqual(['r-1', 'r-3'])
    expect(log.stats()).toEqual({ buffered: 0, written: 2, failed: 1, dropped: 0 })
  })

  it('writes the features from the request body when given one', async () => {
    const lines: string[] = []
    const sink: JsonSink = { writeJson: async (batch) => void lines.push(...linesOf(batch)), write: async () => {}, close: async () => {} }
    const log = new PredictionLog({ sink, sinkName: 'test', sampleRate: 1, bufferSize: 100, maxBatch: 100, flushIntervalMs: 3_600_000, retries: 0 })
    log.record(event(1, { a: 1 }), '{"model_id":"churn","features":{"a":1.00}}')
    log.record(event(2, { a: 2 }))
    await log.close()
    expect(lines[0]).toContain('"features":{"a":1.00}')
    expect(lines[1]).toBe(JSON.stringify(event(2, { a: 2 })))
  })
})
