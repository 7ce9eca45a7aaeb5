import type { Writable } from 'node:stream'
import type { PredictionEvent } from '../prediction-event.js'
import { eventJson, type JsonSink } from './sink.js'

/**
 * One JSON line per event on stdout, beside the logs (a log line has a `level`; an event has
 * none). For platforms that collect stdout; each batch is one write.
 */
export class StdoutSink implements JsonSink {
  constructor(private readonly stream: Writable = process.stdout) {}

  write(batch: readonly PredictionEvent[]): Promise<void> {
    return this.writeJson(batch.map(eventJson))
  }

  writeJson(batch: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.write(batch.join('\n') + '\n', (err) => (err ? reject(err) : resolve()))
    })
  }

  async close(): Promise<void> {}
}
