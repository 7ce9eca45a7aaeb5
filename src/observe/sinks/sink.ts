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

/** A batch as JSON lines (each ending in a newline), the format of the file and stdout sinks. */
export const jsonLines = (batch: readonly PredictionEvent[]): string => {
  let out = ''
  for (const e of batch) out += eventJson(e) + '\n'
  return out
}
