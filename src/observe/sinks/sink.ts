import type { PredictionEvent } from '../prediction-event.js'
import { encodeLines, type JsonLines } from './json-lines.js'

/**
 * Where prediction events go. `PredictionLog` calls `write` off the request path, one batch at a
 * time (never two at once), retries a batch that rejects, and awaits `close` on graceful shutdown.
 * Implementations bound their own waits (a timeout): a write that never settles holds the shutdown.
 *
 * @example
 * const sink: PredictionSink = {
 *   async write(batch) { await db.insertMany(batch) },
 *   async close() { await db.end() },
 * }
 */
export interface PredictionSink {
  /** Stores the batch; rejects when it could not (the batch is then retried, whole). */
  write(batch: readonly PredictionEvent[]): Promise<void>
  /** Flushes and releases what the sink holds (files, connections). */
  close(): Promise<void>
}

/**
 * A sink that stores events as JSON, as every built-in one does. The prediction log then hands it
 * JSON lines, encoded soon after each event was recorded into buffers outside the JavaScript heap:
 * an event's objects (the request's features above all), or its JSON string, would otherwise stay
 * alive until their batch is written, and the garbage collector copies every live object again and
 * again.
 */
export interface JsonSink extends PredictionSink {
  /**
   * Like `write`, for events encoded by `eventJson` as JSON lines. The batch's buffers are the
   * sink's only until the returned promise settles: they are reused after that.
   */
  writeJson(batch: JsonLines): Promise<void>
}

export const takesJson = (sink: PredictionSink): sink is JsonSink => typeof (sink as Partial<JsonSink>).writeJson === 'function'

/** The built-in sinks' common part: given events rather than JSON lines, they encode them first. */
export abstract class JsonTextSink implements JsonSink {
  write(batch: readonly PredictionEvent[]): Promise<void> {
    return this.writeJson(encodeLines(batch))
  }

  abstract writeJson(batch: JsonLines): Promise<void>
  abstract close(): Promise<void>
}
