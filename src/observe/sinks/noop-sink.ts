import type { PredictionSink } from './sink.js'

/** Accepts and forgets every batch: for measuring the cost of the log itself, and for tests. */
export class NoopSink implements PredictionSink {
  async write(): Promise<void> {}
  async close(): Promise<void> {}
}
