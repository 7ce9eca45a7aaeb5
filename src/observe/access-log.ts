import { pino } from 'pino'
import { isoTime } from './clock.js'
import { logWriter, MAX_ATOMIC_WRITE } from './fd-writer.js'
import { millisJson, quoted } from './json-text.js'

/** What one access-log line says about an inference request. */
export interface AccessEntry {
  /** Null when the request was refused before it got one (e.g. malformed JSON). */
  readonly requestId: string | null
  /** The model id the client asked for, or null when the body had none. */
  readonly modelId: string | null
  /** The version that answered, or null (an error before routing). */
  readonly modelVersion: string | null
  readonly status: number
  /** Whole microseconds; the line shows milliseconds (`1.046`). */
  readonly latencyUs: number
  readonly path: string
}

export interface AccessLog {
  write(entry: AccessEntry): void
  /** Writes what is buffered (graceful shutdown). */
  close(): Promise<void>
}

const ASCII = /^[\x00-\x7f]*$/
const pathCache = new Map<string, string>()
/** The route's path as JSON: a handful of paths, each escaped once. */
const pathJson = (path: string): string => {
  let json = pathCache.get(path)
  if (json === undefined) pathCache.set(path, (json = JSON.stringify(path)))
  return json
}

/**
 * The access log: one JSON line per sampled inference request on stdout, the same line pino would
 * print (`level`, `time`, `pid`, `log: "access"`, then the fields), built by hand because it is
 * written on every request: a generic pino call cost ~4 µs a line here, this ~1 µs.
 *
 * Lines are gathered into chunks of at most 4096 bytes, and each chunk is one synchronous write
 * (`logWriter`: whole on the pipe the workers share), so a busy worker makes one write per ~15
 * requests. Synchronous on purpose: an asynchronous write goes through libuv's thread pool, and
 * waking a pool thread for every chunk cost ~5 µs per request on a loaded 2-core machine, more than
 * the rest of the access log. Like Node's own `process.stdout` on a pipe, a log reader that stops
 * reading stalls the process; nothing accumulates in memory. A timer
 * (`flushMs`) bounds how long a line waits when traffic is light, and `close` writes the rest:
 * lines still buffered when a process is killed with SIGKILL are lost, SIGTERM flushes them.
 * `pretty` prints through pino-pretty instead (development).
 */
export function createAccessLog(options: { pretty: boolean; flushMs?: number }): AccessLog {
  if (options.pretty) return prettyAccessLog()
  const write = logWriter(1, 'the access log')
  // The line's constant parts, around the time: pino's fields first, as pino prints them.
  const beforeTime = `{"level":30,"time":"`
  const afterTime = `","pid":${process.pid},"log":"access","request_id":`
  const modelIds = new RepeatingField()
  const versions = new RepeatingField()
  let chunk = ''
  let chunkBytes = 0
  /** Whether every line in the chunk is ASCII: then it is written as latin1, without a UTF-8 pass. */
  let chunkAscii = true
  const flush = (): void => {
    if (chunk === '') return
    const text = chunk
    const ascii = chunkAscii
    chunk = ''
    chunkBytes = 0
    chunkAscii = true
    write(text, ascii)
  }
  const timer = setInterval(flush, options.flushMs ?? 500)
  timer.unref()
  return {
    write(e) {
      const modelId = modelIds.json(e.modelId)
      const version = versions.json(e.modelVersion)
      // Every part is ASCII (request ids are checked printable ASCII, the rest is ours) but the
      // model id (the client's) and the version: their UTF-8 bytes beyond one per character.
      const extra = modelIds.extra + versions.extra
      const line =
        beforeTime + isoTime(Date.now()) + afterTime + (e.requestId === null ? 'null' : quoted(e.requestId)) +
        ',"model_id":' + modelId +
        ',"model_version":' + version +
        ',"status":' + e.status + ',"latency_ms":' + millisJson(e.latencyUs) + ',"path":' + pathJson(e.path) + '}\n'
      const bytes = line.length + extra
      if (chunkBytes + bytes > MAX_ATOMIC_WRITE) flush()
      chunk += line
      chunkBytes += bytes
      if (extra !== 0) chunkAscii = false
    },
    async close() {
      clearInterval(timer)
      flush()
    },
  }
}

/**
 * A field that mostly repeats from line to line (model id, version): its JSON and its UTF-8 bytes
 * beyond one per character (`extra`, non-zero only for non-ASCII text) are kept from the last line.
 */
class RepeatingField {
  private last: string | null | undefined
  private text = 'null'
  extra = 0

  json(value: string | null): string {
    if (value !== this.last) {
      this.last = value
      this.text = value === null ? 'null' : quoted(value)
      this.extra = ASCII.test(this.text) ? 0 : Buffer.byteLength(this.text) - this.text.length
    }
    return this.text
  }
}

function prettyAccessLog(): AccessLog {
  const logger = pino({ level: 'info', base: { pid: process.pid, log: 'access' }, transport: { target: 'pino-pretty', options: { colorize: true } } })
  return {
    write(e) {
      logger.info({ request_id: e.requestId, model_id: e.modelId, model_version: e.modelVersion, status: e.status, latency_ms: e.latencyUs / 1000, path: e.path })
    },
    close: async () => logger.flush(),
  }
}
