import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Logger } from '../../../src/observe/logger.js'
import { Metrics } from '../../../src/observe/metrics.js'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { createPredictionLog, PredictionLog, type PredictionLogOptions } from '../../../src/observe/prediction-log.js'
import { type JsonSink, type PredictionSink } from '../../../src/observe/sinks/sink.js'
import { eventJson, forEachLine, type JsonLines } from '../../../src/observe/sinks/json-lines.js'

const event = (i: number, model = 'churn'): PredictionEvent => ({
  ts: new Date(1_700_000_000_000 + i).toISOString(),
  request_id: `r-${i}`,
  model_id: model,
  model_version: '1',
  arm: null,
  features: { x: i },
  output: { y: i * 2 },
  latency_ms: 0.5,
  shadows: [],
})

/** A sink under the test's control: it records batches, can fail the next writes, and can hold them. */
class TestSink implements PredictionSink {
  readonly batches: PredictionEvent[][] = []
  attempts = 0
  closes = 0
  failNext = 0
  private gate: Promise<void> | undefined
  private openGate: (() => void) | undefined
  private waiters: Array<() => void> = []
  private writeWaiters: Array<() => void> = []

  hold(): void {
    this.gate = new Promise((r) => (this.openGate = r))
  }
  release(): void {
    this.openGate?.()
    this.gate = undefined
  }
  /** Resolves on the next call to write (or at once if `n` calls have been made). */
  attempted(n = this.attempts + 1): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => (this.attempts >= n ? resolve() : void this.waiters.push(check))
      check()
    })
  }
  /** Resolves once `n` batches have been stored. */
  stored(n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => (this.batches.length >= n ? resolve() : void this.writeWaiters.push(check))
      check()
    })
  }
  get written(): PredictionEvent[] {
    return this.batches.flat()
  }

  async write(batch: readonly PredictionEvent[]): Promise<void> {
    this.attempts++
    const waiters = this.waiters
    this.waiters = []
    waiters.forEach((w) => w())
    if (this.failNext > 0) {
      this.failNext--
      throw new Error('sink down')
    }
    await this.gate
    this.batches.push([...batch])
    const writeWaiters = this.writeWaiters
    this.writeWaiters = []
    writeWaiters.forEach((w) => w())
  }
  async close(): Promise<void> {
    this.closes++
  }
}

/** The same, taking events as JSON lines, as the built-in sinks do (the log then holds bytes, not events). */
class JsonTestSink extends TestSink implements JsonSink {
  readonly texts: string[] = []
  writeJson(batch: JsonLines): Promise<void> {
    const texts: string[] = []
    forEachLine(batch, (line) => texts.push(line.toString()))
    expect(texts).toHaveLength(batch.count)
    this.texts.push(...texts)
    return this.write(texts.map((json) => JSON.parse(json) as PredictionEvent))
  }
}

/** The behaviour below holds for both kinds of sink. */
const SINK_KINDS: Array<[string, () => TestSink]> = [
  ['a sink of events', () => new TestSink()],
  ['a sink of JSON text', () => new JsonTestSink()],
]

const logs: Array<{ fields: any; msg: string }> = []
const logger = { warn: (fields: unknown, msg: string) => logs.push({ fields, msg }) } as unknown as Logger

let open: PredictionLog[] = []
function createLog(sink: PredictionSink, options: Partial<PredictionLogOptions> = {}): PredictionLog {
  const log = new PredictionLog({ sink, sinkName: 'test', sampleRate: 1, bufferSize: 10_000, maxBatch: 1000, flushIntervalMs: 3_600_000, retries: 2, retryDelayMs: 1, logger, ...options })
  open.push(log)
  return log
}
afterEach(async () => {
  await Promise.all(open.map((l) => l.close()))
  open = []
  logs.length = 0
})

describe.each(SINK_KINDS)('with %s', (_kind, newSink) => {
  describe('PredictionLog: batching and flushing', () => {
    it('writes every recorded event, in order, in batches of at most maxBatch, and closes the sink', async () => {
      const sink = newSink()
      const log = createLog(sink, { maxBatch: 100 })
      for (let i = 0; i < 250; i++) log.record(event(i))
      await log.close()
      expect(sink.written.map((e) => e.request_id)).toEqual(Array.from({ length: 250 }, (_, i) => `r-${i}`))
      expect(Math.max(...sink.batches.map((b) => b.length))).toBeLessThanOrEqual(100)
      expect(sink.closes).toBe(1)
      expect(log.stats()).toEqual({ buffered: 0, written: 250, failed: 0, dropped: 0 })
    })

    it('writes a partial batch once flushIntervalMs has passed', async () => {
      const sink = newSink()
      const log = createLog(sink, { flushIntervalMs: 10 })
      for (let i = 0; i < 3; i++) log.record(event(i))
      await sink.stored(1)
      expect(sink.batches).toHaveLength(1)
      expect(sink.batches[0]).toHaveLength(3)
    })

    it('writes a full batch without waiting for the interval, but never on the recording call', async () => {
      const sink = newSink()
      const log = createLog(sink, { maxBatch: 10 })
      for (let i = 0; i < 10; i++) log.record(event(i))
      // Because record runs on the request path: the sink's work waits for a later turn.
      expect(sink.attempts).toBe(0)
      await sink.stored(1)
      expect(sink.batches[0]).toHaveLength(10)
    })

    it('hands the sink one batch at a time', async () => {
      let active = 0
      let most = 0
      const sink: PredictionSink = {
        async write() {
          most = Math.max(most, ++active)
          await new Promise((r) => setTimeout(r, 1))
          active--
        },
        async close() {},
      }
      const log = createLog(sink, { maxBatch: 5, flushIntervalMs: 1 })
      for (let i = 0; i < 100; i++) log.record(event(i))
      await log.close()
      expect(most).toBe(1)
      expect(log.stats().written).toBe(100)
    })
  })

  describe('PredictionLog: a full buffer', () => {
    it('drops and counts events once bufferSize are held, counting the batch being written, and never throws', async () => {
      const sink = newSink()
      const metrics = new Metrics(['churn'], { processMetrics: false })
      const log = createLog(sink, { bufferSize: 5, maxBatch: 2, metrics })
      sink.hold()
      log.record(event(0))
      log.record(event(1))
      await sink.attempted(1) // two events are being written
      for (let i = 2; i < 12; i++) expect(() => log.record(event(i))).not.toThrow()
      expect(log.stats()).toEqual({ buffered: 5, written: 0, failed: 0, dropped: 7 })
      expect((await metrics.predictionLogDropped.get()).values[0]?.value).toBe(7)
      expect(logs.filter((l) => l.msg.includes('buffer full'))).toHaveLength(1) // rate-limited
      sink.release()
      await log.close()
      expect(sink.written.map((e) => e.request_id)).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4'])
    })

    it('drops and counts events recorded after close', async () => {
      const sink = newSink()
      const log = createLog(sink)
      await log.close()
      log.record(event(0))
      expect(log.stats()).toMatchObject({ dropped: 1, written: 0 })
    })
  })

  describe('PredictionLog: sink failures', () => {
    it('retries a failed batch and counts it written when a retry succeeds', async () => {
      const sink = newSink()
      const log = createLog(sink, { retries: 3 })
      sink.failNext = 2
      log.record(event(0))
      await log.flush()
      expect(sink.attempts).toBe(3)
      expect(log.stats()).toMatchObject({ written: 1, failed: 0 })
    })

    it('counts a batch failed after its retries, logs it, and goes on with the next batch', async () => {
      const sink = newSink()
      const metrics = new Metrics(['churn'], { processMetrics: false })
      const log = createLog(sink, { retries: 2, metrics })
      sink.failNext = 3
      log.record(event(0))
      log.record(event(1))
      await log.flush()
      expect(sink.attempts).toBe(3)
      log.record(event(2))
      await log.flush()
      expect(log.stats()).toEqual({ buffered: 0, written: 1, failed: 2, dropped: 0 })
      const values = (await metrics.predictionLogEvents.get()).values
      expect(values.find((v) => v.labels.outcome === 'failed')?.value).toBe(2)
      expect(values.find((v) => v.labels.outcome === 'written')?.value).toBe(1)
      expect(logs.find((l) => l.msg.includes('sink write failed'))?.fields).toMatchObject({ sink: 'test', events: 2, attempts: 3 })
    })

    it('treats a sink that throws synchronously as a failed write', async () => {
      const sink: PredictionSink = {
        write() {
          throw new Error('not even a promise')
        },
        async close() {},
      }
      const log = createLog(sink, { retries: 0 })
      log.record(event(0))
      await log.close()
      expect(log.stats()).toMatchObject({ failed: 1 })
    })

    it('at shutdown, once a batch has failed every retry, counts the rest failed without trying them', async () => {
      // Because shutdown time is bounded (the primary kills slow workers): a dead sink must not use it up.
      const sink = newSink()
      const log = createLog(sink, { maxBatch: 2, retries: 2 })
      sink.failNext = Infinity
      for (let i = 0; i < 5; i++) log.record(event(i))
      await log.close()
      expect(sink.attempts).toBe(3)
      expect(log.stats()).toEqual({ buffered: 0, written: 0, failed: 5, dropped: 0 })
      expect(sink.closes).toBe(1)
    })
  })

  describe('PredictionLog: close', () => {
    it('writes events recorded while the last batches are being written', async () => {
      const sink = newSink()
      const log = createLog(sink)
      for (let i = 0; i < 3; i++) log.record(event(i))
      sink.hold()
      const closed = log.close()
      await sink.attempted(1)
      log.record(event(3))
      log.record(event(4))
      sink.release()
      await closed
      expect(sink.written.map((e) => e.request_id)).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4'])
    })

    it('is idempotent: the sink is closed once', async () => {
      const sink = newSink()
      const log = createLog(sink)
      log.record(event(0))
      await Promise.all([log.close(), log.close()])
      await log.close()
      expect(sink.closes).toBe(1)
      expect(sink.written).toHaveLength(1)
    })

    it('logs a sink whose close fails, and still resolves', async () => {
      const log = createLog({ write: async () => {}, close: async () => Promise.reject(new Error('cannot close')) })
      await expect(log.close()).resolves.toBeUndefined()
      expect(logs.some((l) => l.msg.includes('closing the sink failed'))).toBe(true)
    })
  })
})

describe('PredictionLog: a sink of JSON text', () => {
  it('gets each event as eventJson encodes it, in order, encoded after the recording turn', async () => {
    const sink = new JsonTestSink()
    const log = createLog(sink, { maxBatch: 3 })
    const events = Array.from({ length: 7 }, (_, i) => event(i))
    for (const e of events) log.record(e)
    // Recorded, not yet encoded: the work waits for the check phase, after the responses.
    expect(log.stats().buffered).toBe(7)
    await sink.stored(2)
    await log.close()
    expect(sink.texts).toEqual(events.map((e) => eventJson(e)))
  })

  it('writes what the event held when recorded, whatever its objects hold later', async () => {
    const sink = new JsonTestSink()
    const log = createLog(sink)
    const output = { y: 1 }
    log.record({ ...event(0), output })
    await new Promise((r) => setImmediate(r))
    output.y = 2
    await log.close()
    expect(sink.written[0]!.output).toEqual({ y: 1 })
  })
})

describe('PredictionLog: sampling', () => {
  it('wants every prediction at rate 1 and none at rate 0, without drawing', () => {
    let draws = 0
    const random = () => (draws++, 0)
    expect(createLog(new TestSink(), { sampleRate: 1, random }).wants('churn')).toBe(true)
    expect(createLog(new TestSink(), { sampleRate: 0, random }).wants('churn')).toBe(false)
    expect(draws).toBe(0)
  })

  it('wants a prediction when the draw falls under the rate, per model when one is set', () => {
    let next = 0
    const log = createLog(new TestSink(), { sampleRate: 0.5, sampleRates: { eta: 0.1, off: 0 }, random: () => next })
    next = 0.3
    expect(log.wants('churn')).toBe(true)
    expect(log.wants('eta')).toBe(false)
    next = 0.05
    expect(log.wants('eta')).toBe(true)
    expect(log.wants('off')).toBe(false)
    next = 0.7
    expect(log.wants('churn')).toBe(false)
  })

  it('samples about the configured share with Math.random', () => {
    const log = createLog(new TestSink(), { sampleRate: 0.2 })
    let n = 0
    for (let i = 0; i < 20_000; i++) if (log.wants('churn')) n++
    // 20 000 draws at p = 0.2: the standard deviation is about 57.
    expect(n).toBeGreaterThan(3_600)
    expect(n).toBeLessThan(4_400)
  })
})

describe('PredictionLog: metrics', () => {
  it('exposes written and failed series at zero before any event', async () => {
    const metrics = new Metrics(['churn'], { processMetrics: false })
    createLog(new TestSink(), { metrics })
    const text = await metrics.registry.metrics()
    expect(text).toContain('servekit_prediction_log_events_total{sink="test",outcome="written"} 0')
    expect(text).toContain('servekit_prediction_log_events_total{sink="test",outcome="failed"} 0')
    expect(text).toContain('servekit_prediction_log_dropped_total 0')
  })
})

describe('createPredictionLog', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
    dir = undefined
  })
  const base = { sampleRate: 1, models: {}, bufferSize: 100, maxBatch: 10, flushIntervalMs: 1000, retries: 0 }

  it('returns nothing when the log is disabled', () => {
    expect(createPredictionLog({ ...base, enabled: false, sink: { type: 'stdout' } }, { baseDir: '/', logger })).toBeUndefined()
  })

  it('writes JSONL files under the directory relative to the config file, with per-model rates', async () => {
    dir = await mkdtemp(join(tmpdir(), 'servekit-plog-'))
    const log = createPredictionLog(
      { ...base, enabled: true, models: { eta: { sampleRate: 0 } }, sink: { type: 'jsonl', dir: './logs', maxBytes: 1 << 20, maxAgeMs: 60_000, maxTotalBytes: 0 } },
      { baseDir: dir, logger },
    )!
    expect(log.wants('eta')).toBe(false)
    expect(log.wants('churn')).toBe(true)
    log.record(event(0))
    await log.close()
    const files = await readdir(join(dir, 'logs'))
    expect(files).toHaveLength(1)
    expect(JSON.parse(await readFile(join(dir, 'logs', files[0]!), 'utf8'))).toEqual(event(0))
  })

  it('uses a custom sink under its own name', async () => {
    const sink = new TestSink()
    const metrics = new Metrics(['churn'], { processMetrics: false })
    const log = createPredictionLog({ ...base, enabled: true, sink: { type: 'custom', name: 'kafka', sink } }, { baseDir: '/', logger, metrics })!
    log.record(event(0))
    await log.close()
    expect(sink.written).toHaveLength(1)
    expect(await metrics.registry.metrics()).toContain('servekit_prediction_log_events_total{sink="kafka",outcome="written"} 1')
  })
})
