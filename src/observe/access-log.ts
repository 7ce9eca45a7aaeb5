import { pino } from 'pino'
import { isoTime } from './clock.js'
import { logWriter, MAX_ATOMIC_WRITE } from './fd-writer.js'
import { millisJson, quoted, quotedRepeating } from './json-text.js'

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
  const modelIdJson = quotedRepeating()
  const versionJson = quotedRepeating()
  let chunk = ''
  let chunkBytes = 0
  const flush = (): void => {
    if (chunk === '') return
    const text = chunk
    chunk = ''
    chunkBytes = 0
    write(text)
  }
  const timer = setInterval(flush, options.flushMs ?? 500)
  timer.unref()
  return {
    write(e) {
      const modelId = e.modelId === null ? 'null' : modelIdJson(e.modelId)
      const line =
        beforeTime + isoTime(Date.now()) + afterTime + (e.requestId === null ? 'null' : quoted(e.requestId)) +
        ',"model_id":' + modelId +
        ',"model_version":' + (e.modelVersion === null ? 'null' : versionJson(e.modelVersion)) +
        ',"status":' + e.status + ',"latency_ms":' + millisJson(e.latencyUs) + ',"path":' + pathJson(e.path) + '}\n'
      // Every part is ASCII (request ids are checked printable ASCII, versions are safe names, the
      // rest is ours) but the client's model id: its UTF-8 bytes beyond one per character are added.
      const bytes = line.length + (ASCII.test(modelId) ? 0 : Buffer.byteLength(modelId) - modelId.length)
      if (chunkBytes + bytes > MAX_ATOMIC_WRITE) flush()
      chunk += line
      chunkBytes += bytes
    },
    async close() {
      clearInterval(timer)
      flush()
    },
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
