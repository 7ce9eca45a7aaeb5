import { MAX_ATOMIC_WRITE, writeAllSync } from '../fd-writer.js'
import { NEWLINE, type JsonLines } from './json-lines.js'
import { JsonTextSink } from './sink.js'

/** Synchronous output that throws when a write failed. */
export interface BytesOut {
  write(bytes: Buffer): void
}

export interface StdoutSinkOptions {
  /** Where the lines go (default: file descriptor 1, written synchronously). */
  out?: BytesOut
  /** Told about an event line longer than MAX_ATOMIC_WRITE bytes, which no write can keep whole on a shared pipe. */
  onLongLine?: (bytes: number) => void
}

/**
 * One JSON line per event on stdout, beside the logs (a log line has a `level`; an event has
 * none), for platforms that collect stdout. Lines are gathered into writes of at most 4096 bytes,
 * each made synchronously, like the access log's (observe/access-log.ts): a batch written as one
 * large write to a pipe shared by several workers had lines of other processes torn into it.
 * A reader that stops reading stalls the worker, as it does for every log line.
 */
export class StdoutSink extends JsonTextSink {
  private readonly out: BytesOut
  private readonly onLongLine: ((bytes: number) => void) | undefined

  constructor(options: StdoutSinkOptions = {}) {
    super()
    this.out = options.out ?? fdOut(1)
    this.onLongLine = options.onLongLine
  }

  async writeJson(batch: JsonLines): Promise<void> {
    for (const chunk of batch.chunks) {
      for (let start = 0; start < chunk.length; ) {
        // The whole lines that fit in one atomic write.
        let end = chunk.length - start <= MAX_ATOMIC_WRITE ? chunk.length : chunk.lastIndexOf(NEWLINE, start + MAX_ATOMIC_WRITE - 1) + 1
        if (end <= start) {
          // Not even one line fits: written on its own.
          end = chunk.indexOf(NEWLINE, start) + 1
          this.onLongLine?.(end - start)
        }
        this.out.write(chunk.subarray(start, end))
        start = end
      }
    }
  }

  async close(): Promise<void> {}
}

/** A file descriptor written synchronously, each write whole (see writeAllSync). */
const fdOut = (fd: number): BytesOut => ({ write: (bytes) => writeAllSync(fd, bytes) })
