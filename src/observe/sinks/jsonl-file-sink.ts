import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { PredictionEvent } from '../prediction-event.js'
import { eventJson, type PredictionSink } from './sink.js'

export interface JsonlFileSinkOptions {
  /** Directory of the files (created when missing). */
  dir: string
  /** A file takes no line that would push it past this size (a single larger line gets a file of its own). */
  maxBytes: number
  /** A file takes no events once it is this old; the next batch starts a new one. */
  maxAgeMs: number
  /** Tells this process's files from other processes' (default: the pid). */
  tag?: string
  /** Clock, for tests. */
  now?: () => number
}

interface OpenFile {
  readonly handle: FileHandle
  readonly path: string
  readonly openedAt: number
  bytes: number
}

/**
 * Appends events as JSON lines to `<dir>/predictions-<UTC time>-<pid>-<n>.jsonl`, rotating by size
 * and age. Every process writes only its own files, so lines of different workers never interleave,
 * and names sort by creation time. Files are opened lazily: a process that logs nothing leaves none.
 */
export class JsonlFileSink implements PredictionSink {
  private file: OpenFile | undefined
  private seq = 0
  private readonly now: () => number
  private readonly tag: string

  constructor(private readonly options: JsonlFileSinkOptions) {
    this.now = options.now ?? Date.now
    this.tag = options.tag ?? String(process.pid)
  }

  /** The file being written, if any (for tests and logs). */
  get currentPath(): string | undefined {
    return this.file?.path
  }

  async write(batch: readonly PredictionEvent[]): Promise<void> {
    const { maxBytes, maxAgeMs } = this.options
    const now = this.now()
    let file = this.file !== undefined && now - this.file.openedAt < maxAgeMs ? this.file : await this.rotate(now)
    let pending = ''
    let pendingBytes = 0
    for (const event of batch) {
      const line = eventJson(event) + '\n'
      const n = Buffer.byteLength(line)
      if (file.bytes + pendingBytes + n > maxBytes && file.bytes + pendingBytes > 0) {
        await this.append(file, pending, pendingBytes)
        pending = ''
        pendingBytes = 0
        file = await this.rotate(now)
      }
      pending += line
      pendingBytes += n
    }
    if (pendingBytes > 0) await this.append(file, pending, pendingBytes)
  }

  async close(): Promise<void> {
    const file = this.file
    this.file = undefined
    if (file) await finish(file)
  }

  private async append(file: OpenFile, text: string, bytes: number): Promise<void> {
    try {
      await file.handle.appendFile(text)
      file.bytes += bytes
    } catch (err) {
      // The batch is retried whole; it goes to a fresh file rather than after a torn line.
      if (this.file === file) this.file = undefined
      await file.handle.close().catch(() => {})
      throw err
    }
  }

  private async rotate(now: number): Promise<OpenFile> {
    const old = this.file
    this.file = undefined
    if (old) await finish(old)
    await mkdir(this.options.dir, { recursive: true })
    const stamp = new Date(now).toISOString().replace(/[-:.]/g, '')
    // The sequence number is padded so that names sort in creation order even within a millisecond.
    const path = join(this.options.dir, `predictions-${stamp}-${this.tag}-${String(this.seq++).padStart(6, '0')}.jsonl`)
    // 'ax': append, and fail rather than share a file should a name ever repeat.
    const handle = await open(path, 'ax')
    this.file = { handle, path, openedAt: now, bytes: 0 }
    return this.file
  }
}

/** On disk before closing: a finished file survives a machine crash right after rotation or shutdown. */
async function finish(file: OpenFile): Promise<void> {
  try {
    await file.handle.datasync()
  } finally {
    await file.handle.close()
  }
}
