import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { NEWLINE, type JsonLines } from './json-lines.js'
import { JsonTextSink } from './sink.js'

export interface JsonlFileSinkOptions {
  /** Directory of the files (created when missing). */
  dir: string
  /** A file takes no line that would push it past this size (a single larger line gets a file of its own). */
  maxBytes: number
  /** A file takes no events once it is this old; the next batch starts a new one. */
  maxAgeMs: number
  /**
   * Most bytes of prediction files kept in `dir` (0: no limit): at each rotation the oldest closed
   * files are deleted until the rest fit. Files other processes may still append to (opened less
   * than `maxAgeMs` plus a minute ago) are never deleted, so the directory can exceed the limit by
   * up to one file per writing process.
   */
  maxTotalBytes?: number
  /** Told which files retention deleted. */
  onDeleted?: (files: ReadonlyArray<{ name: string; bytes: number }>) => void
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
 * With `maxTotalBytes`, the oldest files are deleted at rotation so the directory cannot fill a disk.
 */
export class JsonlFileSink extends JsonTextSink {
  private file: OpenFile | undefined
  private seq = 0
  private readonly now: () => number
  private readonly tag: string

  constructor(private readonly options: JsonlFileSinkOptions) {
    super()
    this.now = options.now ?? Date.now
    this.tag = options.tag ?? String(process.pid)
  }

  /** The file being written, if any (for tests and logs). */
  get currentPath(): string | undefined {
    return this.file?.path
  }

  async writeJson(batch: JsonLines): Promise<void> {
    const { maxBytes, maxAgeMs } = this.options
    const now = this.now()
    let file = this.file !== undefined && now - this.file.openedAt < maxAgeMs ? this.file : await this.rotate(now)
    for (const chunk of batch.chunks) {
      let rest = chunk
      while (rest.length > 0) {
        // Rotation by size: the whole lines that fit go to this file, the rest starts the next one.
        const room = maxBytes - file.bytes
        let cut = rest.length <= room ? rest.length : room > 0 ? rest.lastIndexOf(NEWLINE, room - 1) + 1 : 0
        // A line larger than maxBytes: a file of its own.
        if (cut === 0 && file.bytes === 0) cut = rest.indexOf(NEWLINE) + 1
        if (cut > 0) {
          await this.append(file, rest.subarray(0, cut))
          rest = rest.subarray(cut)
        }
        if (rest.length > 0) file = await this.rotate(now)
      }
    }
  }

  async close(): Promise<void> {
    const file = this.file
    this.file = undefined
    if (file) await finish(file)
  }

  /** Writes `data` at the end of the file. */
  private async append(file: OpenFile, data: Buffer): Promise<void> {
    try {
      for (let done = 0; done < data.length; ) done += (await file.handle.write(data, done, data.length - done)).bytesWritten
      file.bytes += data.length
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
    const stamp = fileStamp(now)
    // The sequence number is padded so that names sort in creation order even within a millisecond.
    const path = join(this.options.dir, `predictions-${stamp}-${this.tag}-${String(this.seq++).padStart(6, '0')}.jsonl`)
    // 'ax': append, and fail rather than share a file should a name ever repeat.
    const handle = await open(path, 'ax')
    this.file = { handle, path, openedAt: now, bytes: 0 }
    if (this.options.maxTotalBytes) await this.prune(this.options.maxTotalBytes, now, path)
    return this.file
  }

  /** Deletes the oldest closed prediction files of the directory until the others fit in `limit` bytes. */
  private async prune(limit: number, now: number, current: string): Promise<void> {
    try {
      const names = (await readdir(this.options.dir)).filter((n) => FILE_NAME.test(n)).sort()
      const files = await Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(this.options.dir, name)).catch(() => undefined))?.size ?? 0 })))
      let total = files.reduce((sum, f) => sum + f.bytes, 0)
      const deleted: Array<{ name: string; bytes: number }> = []
      for (const f of files) {
        if (total <= limit) break
        const path = join(this.options.dir, f.name)
        if (path === current || !this.closed(f.name, now)) continue
        await unlink(path).catch(() => {})
        total -= f.bytes
        deleted.push(f)
      }
      if (deleted.length > 0) this.options.onDeleted?.(deleted)
    } catch {
      // Retention is housekeeping: a failure here must not fail the batch (it runs again next rotation).
    }
  }

  /** Whether no process appends to this file any more: this process's own older files, or anyone's opened long enough ago. */
  private closed(name: string, now: number): boolean {
    const m = FILE_NAME.exec(name)
    if (!m) return false
    if (m[2] === this.tag) return true
    const opened = stampTime(m[1]!)
    return Number.isFinite(opened) && now - opened > this.options.maxAgeMs + 60_000
  }
}


/** A file's open time in its name: the ISO time without separators, `20261128T160456123Z`. */
const fileStamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:.]/g, '')
/** The time `fileStamp` wrote; NaN for anything else. */
const stampTime = (stamp: string): number => Date.parse(stamp.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{3})Z$/, '$1-$2-$3T$4:$5:$6.$7Z'))

/** `predictions-20261128T160456123Z-<tag>-000001.jsonl`: the open time, the writer's tag, a sequence number. */
const FILE_NAME = /^predictions-(\d{8}T\d{9}Z)-(.+)-\d{6,}\.jsonl$/

/** On disk before closing: a finished file survives a machine crash right after rotation or shutdown. */
async function finish(file: OpenFile): Promise<void> {
  try {
    await file.handle.datasync()
  } finally {
    await file.handle.close()
  }
}
