import type { PredictionEvent } from '../prediction-event.js'

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
 * A sink that stores events as JSON text, as every built-in one does. The prediction log then hands
 * it the text, encoded soon after each event was recorded: an event's objects (the request's
 * features above all) would otherwise stay alive until their batch is written, and the garbage
 * collector copies every live object again and again.
 */
export interface JsonSink extends PredictionSink {
  /** Like `write`, for events already encoded by `eventJson` (one JSON text each, no newline). */
  writeJson(batch: readonly string[]): Promise<void>
}

export const takesJson = (sink: PredictionSink): sink is JsonSink => typeof (sink as Partial<JsonSink>).writeJson === 'function'

/** The built-in sinks' common part: given events rather than text, they encode them first. */
export abstract class JsonTextSink implements JsonSink {
  write(batch: readonly PredictionEvent[]): Promise<void> {
    return this.writeJson(batch.map(eventJson))
  }

  abstract writeJson(batch: readonly string[]): Promise<void>
  abstract close(): Promise<void>
}

/**
 * An event as one line of JSON. Outputs come from user code: a BigInt or a cycle must cost that one
 * event its odd values, not fail the batch forever.
 */
export function eventJson(event: PredictionEvent): string {
  try {
    return JSON.stringify(event)
  } catch {
    const seen = new WeakSet<object>()
    return JSON.stringify(event, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString()
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[Circular]'
        seen.add(value)
      }
      return value
    })
  }
}
