import type { Counter } from 'prom-client'
import type { Logger } from './logger.js'
import type { Metrics } from './metrics.js'
import type { PredictionEvent, PredictionListener } from './prediction-event.js'
import { createSink, type SinkConfig } from './sinks/create-sink.js'
import { MAX_ATOMIC_WRITE } from './fd-writer.js'
import { takesJson, type JsonSink, type PredictionSink } from './sinks/sink.js'
import { eventJson, JsonLinesEncoder, type JsonLines } from './sinks/json-lines.js'

export interface PredictionLogOptions {
  sink: PredictionSink
  /** The sink's label in `servekit_prediction_log_events_total`. */
  sinkName: string
  /** Share of predictions logged, 0 to 1. */
  sampleRate: number
  /** Per model id, overriding `sampleRate`. */
  sampleRates?: Readonly<Record<string, number>>
  /** Most events held (queued plus being written); more are dropped and counted. */
  bufferSize: number
  /** Most events per `sink.write`; a full batch is written at once, without waiting for the interval. */
  maxBatch: number
  /** Longest an event waits before its (partial) batch is written. */
  flushIntervalMs: number
  /** Attempts after the first before a batch counts as failed. */
  retries: number
  /** Wait before the first retry; doubles on each. */
  retryDelayMs?: number
  metrics?: Metrics | undefined
  logger?: Logger | undefined
  /** For tests: the sampling draw. */
  random?: () => number
}

/** Where every event went; `buffered` are still held. */
export interface PredictionLogStats {
  buffered: number
  written: number
  failed: number
  dropped: number
}

/** What the log holds between `record` and its sink, taken out in batches. */
interface Held<B> {
  /** Events held, not counting a batch being written. */
  readonly length: number
  push(event: PredictionEvent, bodyJson: string | undefined): void
  /** The oldest events held, at most `max` (at least one); undefined when none are held. */
  take(max: number): { batch: B; count: number } | undefined
  send(batch: B): Promise<void>
  /** Told once the sink took the batch on its first attempt (it holds nothing of it any more). */
  delivered(batch: B): void
}

/** For a sink of events (a user's): the events themselves. */
class HeldEvents implements Held<PredictionEvent[]> {
  private queue: PredictionEvent[] = []

  constructor(private readonly sink: PredictionSink) {}

  get length(): number {
    return this.queue.length
  }
  push(event: PredictionEvent): void {
    this.queue.push(event)
  }
  take(max: number): { batch: PredictionEvent[]; count: number } | undefined {
    if (this.queue.length === 0) return undefined
    let batch: PredictionEvent[]
    if (this.queue.length <= max) {
      batch = this.queue
      this.queue = []
    } else {
      batch = this.queue.splice(0, max)
    }
    return { batch, count: batch.length }
  }
  send(batch: PredictionEvent[]): Promise<void> {
    return this.sink.write(batch)
  }
  delivered(): void {}
}

/**
 * For a sink of JSON lines (every built-in one): the events recorded in a turn of the event loop
 * are encoded right after it (`setImmediate`, once the responses are out), into buffers outside
 * the JavaScript heap (JsonLinesEncoder). An event held as objects (its features above all) or as
 * a string until its batch is written stays alive through young-generation collections, each
 * copying it again.
 */
class HeldLines implements Held<JsonLines> {
  private fresh: PredictionEvent[] = []
  /** Each fresh event's request body, when it came with one (undefined otherwise). */
  private bodies: Array<string | undefined> = []
  private scheduled = false
  private readonly encoder: JsonLinesEncoder

  constructor(
    private readonly sink: JsonSink,
    maxBatch: number,
    /** Told about an event JSON cannot encode (an output whose toJSON throws): it is dropped. */
    private readonly unencodable: (err: unknown) => void,
  ) {
    this.encoder = new JsonLinesEncoder(maxBatch)
  }

  get length(): number {
    return this.fresh.length + this.encoder.length
  }
  push(event: PredictionEvent, bodyJson: string | undefined): void {
    this.fresh.push(event)
    this.bodies.push(bodyJson)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.encode)
    }
  }
  take(max: number): { batch: JsonLines; count: number } | undefined {
    this.encode()
    const batch = this.encoder.take(max)
    return batch && { batch, count: batch.count }
  }
  send(batch: JsonLines): Promise<void> {
    return this.sink.writeJson(batch)
  }
  delivered(batch: JsonLines): void {
    this.encoder.recycle(batch)
  }

  private readonly encode = (): void => {
    this.scheduled = false
    if (this.fresh.length === 0) return
    const { fresh, bodies } = this
    this.fresh = []
    this.bodies = []
    for (let i = 0; i < fresh.length; i++) {
      // Outside any request: a throw here would end the process.
      try {
        this.encoder.add(eventJson(fresh[i]!, bodies[i]))
      } catch (err) {
        this.unencodable(err)
      }
    }
  }
}

/**
 * Prediction events sampled, buffered and handed to a sink in batches, off the request path.
 * `record` only adds to a bounded buffer: when it is full the event is dropped and counted, so a
 * slow or dead sink never slows, blocks or fails a request. What the buffer holds depends on the
 * sink: JSON lines for the built-in ones (HeldLines), the events for a user's (HeldEvents).
 *
 * One batch is written at a time; a batch that fails is retried a few times, then counted as
 * failed (never re-queued, so memory stays bounded). `close` writes everything held, including
 * events recorded while it runs, then closes the sink.
 */
export class PredictionLog implements PredictionListener {
  private readonly held: Held<unknown>
  private inFlight = 0
  private flushing: Promise<void> | undefined
  private flushScheduled = false
  private draining = false
  private closed = false
  private closing: Promise<void> | undefined
  /** Set when a batch failed during close: the rest are counted failed rather than retried. */
  private givenUp = false
  private readonly counts = { written: 0, failed: 0, dropped: 0 }
  private readonly timer: NodeJS.Timeout
  private readonly rates: ReadonlyMap<string, number>
  private readonly random: () => number
  private readonly counters: { written: Counter.Internal; failed: Counter.Internal; dropped: Counter } | undefined
  private readonly warnFailure: (fields: object, msg: string) => void
  private readonly warnDrop: (fields: object, msg: string) => void

  constructor(private readonly options: PredictionLogOptions) {
    this.rates = new Map(Object.entries(options.sampleRates ?? {}))
    this.random = options.random ?? Math.random
    const m = options.metrics
    if (m) {
      const sink = options.sinkName
      // inc(0) makes the series exist from the start, so a rate() or an alert sees a zero, not nothing.
      const written = m.predictionLogEvents.labels({ sink, outcome: 'written' })
      const failed = m.predictionLogEvents.labels({ sink, outcome: 'failed' })
      written.inc(0)
      failed.inc(0)
      this.counters = { written, failed, dropped: m.predictionLogDropped }
    }
    const sink = options.sink
    this.held = takesJson(sink) ? new HeldLines(sink, options.maxBatch, (err) => this.failed(1, err, 'prediction log: an event could not be encoded as JSON; dropped')) : new HeldEvents(sink)
    this.warnFailure = rateLimited(options.logger, 10_000)
    this.warnDrop = rateLimited(options.logger, 60_000)
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs)
    this.timer.unref()
  }

  wants(modelId: string): boolean {
    const rate = this.rates.get(modelId) ?? this.options.sampleRate
    return rate >= 1 || (rate > 0 && this.random() < rate)
  }

  record(event: PredictionEvent, bodyJson?: string): void {
    const held = this.held
    if (this.closed || held.length + this.inFlight >= this.options.bufferSize) {
      this.counts.dropped++
      this.counters?.dropped.inc()
      this.warnDrop({ sink: this.options.sinkName, buffer_size: this.options.bufferSize, dropped_total: this.counts.dropped }, this.closed ? 'prediction log: event after close; dropped' : 'prediction log: buffer full; dropping events')
      return
    }
    held.push(event, bodyJson)
    // A full batch goes out at once, but on a later turn: the sink's work stays off this request.
    if (held.length >= this.options.maxBatch && !this.flushScheduled && this.flushing === undefined) {
      this.flushScheduled = true
      setImmediate(this.scheduledFlush)
    }
  }

  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false
    void this.flush()
  }

  stats(): PredictionLogStats {
    return { buffered: this.held.length + this.inFlight, ...this.counts }
  }

  /** Writes what is held now (one write at a time: joins a flush in progress). */
  flush(): Promise<void> {
    if (this.flushing === undefined && this.held.length > 0) {
      this.flushing = this.drain().finally(() => {
        this.flushing = undefined
      })
    }
    return this.flushing ?? Promise.resolve()
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.draining = true
    clearInterval(this.timer)
    // Events may still arrive while the last batches are written (shadows finishing): take them too.
    while (this.flushing !== undefined || this.held.length > 0) await this.flush()
    this.closed = true
    try {
      await this.options.sink.close()
    } catch (err) {
      this.options.logger?.warn({ err, sink: this.options.sinkName }, 'prediction log: closing the sink failed')
    }
  }

  /** Batches until nothing is held, or, outside shutdown, until less than a full batch is left (the timer takes it). */
  private async drain(): Promise<void> {
    const { maxBatch } = this.options
    do {
      const taken = this.held.take(maxBatch)
      if (taken === undefined) return
      this.inFlight = taken.count
      try {
        await this.deliver(taken.batch, taken.count)
      } finally {
        this.inFlight = 0
      }
    } while (this.held.length >= maxBatch || (this.draining && this.held.length > 0))
  }

  /** Counts `count` events as failed and warns (rate-limited). */
  private failed(count: number, err: unknown, msg: string, fields: object = {}): void {
    this.counts.failed += count
    this.counters?.failed.inc(count)
    this.warnFailure({ err, sink: this.options.sinkName, events: count, ...fields, failed_total: this.counts.failed }, msg)
  }

  private async deliver(batch: unknown, count: number): Promise<void> {
    const { retries, retryDelayMs = 100 } = this.options
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.givenUp) throw new Error('an earlier batch failed during shutdown')
        await this.held.send(batch)
        this.counts.written += count
        this.counters?.written.inc(count)
        // After a failed attempt the sink may still hold the batch (a timed-out write queued in a
        // client library): its buffers are reused only when the first attempt took it.
        if (attempt === 0) this.held.delivered(batch)
        return
      } catch (err) {
        if (attempt >= retries || this.givenUp) {
          // At shutdown time is short: one batch that failed every attempt means the sink is down.
          if (this.draining) this.givenUp = true
          this.failed(count, err, 'prediction log: sink write failed; events lost', { attempts: attempt + 1 })
          return
        }
        await new Promise((r) => setTimeout(r, retryDelayMs * 2 ** attempt))
      }
    }
  }
}

/** `predictionLog` of the config, defaults filled in (config/schema.ts). */
export interface PredictionLogConfig {
  enabled: boolean
  sink: SinkConfig
  sampleRate: number
  models: Readonly<Record<string, { sampleRate: number }>>
  bufferSize: number
  maxBatch: number
  flushIntervalMs: number
  retries: number
}

/** The prediction log a config asks for, or undefined when `enabled` is false. */
export function createPredictionLog(config: PredictionLogConfig, ctx: { baseDir: string; logger: Logger; metrics?: Metrics | undefined }): PredictionLog | undefined {
  if (!config.enabled) return undefined
  const warnConnection = rateLimited(ctx.logger, 30_000)
  const warnLongLine = rateLimited(ctx.logger, 60_000)
  const { sink, name } = createSink(config.sink, {
    baseDir: ctx.baseDir,
    onError: (err) => warnConnection({ err, sink: config.sink.type }, 'prediction log: sink connection error'),
    onLongLine: (bytes) =>
      warnLongLine(
        { sink: config.sink.type, bytes, max_bytes: MAX_ATOMIC_WRITE },
        'prediction log: an event line is longer than a pipe keeps whole; with several workers on one stdout it may interleave with another process\'s output (the jsonl sink has no such limit)',
      ),
    onDeleted: (files) =>
      ctx.logger.info({ files: files.map((f) => f.name), bytes: files.reduce((n, f) => n + f.bytes, 0) }, 'prediction log: deleted the oldest files to stay under maxTotalBytes'),
  })
  return new PredictionLog({
    sink,
    sinkName: name,
    sampleRate: config.sampleRate,
    sampleRates: Object.fromEntries(Object.entries(config.models).map(([id, m]) => [id, m.sampleRate])),
    bufferSize: config.bufferSize,
    maxBatch: config.maxBatch,
    flushIntervalMs: config.flushIntervalMs,
    retries: config.retries,
    metrics: ctx.metrics,
    logger: ctx.logger,
  })
}

/** A warn logger that says something at most once per `ms`, with how many it kept quiet about. */
function rateLimited(logger: Logger | undefined, ms: number): (fields: object, msg: string) => void {
  let last = -Infinity
  let suppressed = 0
  return (fields, msg) => {
    if (logger === undefined) return
    const now = Date.now()
    if (now - last < ms) {
      suppressed++
      return
    }
    logger.warn({ ...fields, suppressed }, msg)
    last = now
    suppressed = 0
  }
}
