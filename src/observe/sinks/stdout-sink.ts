import { MAX_ATOMIC_WRITE, writeAllSync } from '../fd-writer.js'
import { JsonTextSink } from './sink.js'

/** Synchronous text output that throws when a write failed. */
export interface TextOut {
  write(text: string): void
}

export interface StdoutSinkOptions {
  /** Where the lines go (default: file descriptor 1, written synchronously). */
  out?: TextOut
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
  private readonly out: TextOut
  private readonly onLongLine: ((bytes: number) => void) | undefined

  constructor(options: StdoutSinkOptions = {}) {
    super()
    this.out = options.out ?? fdOut(1)
    this.onLongLine = options.onLongLine
  }

  async writeJson(batch: readonly string[]): Promise<void> {
    let chunk = ''
    let bytes = 0
    for (const json of batch) {
      const n = Buffer.byteLength(json) + 1
      if (bytes + n > MAX_ATOMIC_WRITE && bytes > 0) {
        this.out.write(chunk)
        chunk = ''
        bytes = 0
      }
      if (n > MAX_ATOMIC_WRITE) {
        this.onLongLine?.(n)
        this.out.write(json + '\n')
        continue
      }
      chunk += json + '\n'
      bytes += n
    }
    if (bytes > 0) this.out.write(chunk)
  }

  async close(): Promise<void> {}
}

/** A file descriptor written synchronously, each write whole (see writeAllSync). */
const fdOut = (fd: number): TextOut => ({ write: (text) => writeAllSync(fd, text) })
