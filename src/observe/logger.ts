import { pino, type Logger } from 'pino'

export type { Logger }

export interface LoggerOptions {
  level: string
  /** Human-readable lines through pino-pretty when it is installed (development). */
  pretty: boolean
  /** Bound onto every line, e.g. `{ worker: 2 }`. */
  base?: Record<string, unknown>
  /** File descriptor to write to: 1 (stdout, the default) or 2 (stderr, for commands whose stdout is data). */
  fd?: 1 | 2
}

/**
 * JSON lines on stdout. The field names are servekit's vocabulary (`model_id`, `model_version`,
 * `request_id`), the same as in HTTP bodies and docs.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { pid: process.pid, ...options.base }
  if (options.pretty) {
    return pino({ level: options.level, base, transport: { target: 'pino-pretty', options: { colorize: true, destination: options.fd ?? 1 } } })
  }
  return pino({ level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: options.fd ?? 1, sync: true }))
}

/**
 * The access log: one line per sampled inference request, written through a buffered asynchronous
 * destination (flushed every `flushMs` and on close), so a high request rate costs few syscalls.
 * Lines still buffered when a process is killed with SIGKILL are lost; SIGTERM flushes them.
 */
export function createAccessLogger(options: { pretty: boolean; base?: Record<string, unknown>; flushMs?: number }): { logger: Logger; close(): Promise<void> } {
  const base = { pid: process.pid, ...options.base }
  if (options.pretty) {
    const logger = pino({ level: 'info', base, transport: { target: 'pino-pretty', options: { colorize: true } } })
    return { logger, close: async () => logger.flush() }
  }
  // Writes stay under PIPE_BUF (4096 bytes), so they are atomic on a pipe: lines from several worker
  // processes (and this process's synchronous logger) never tear. periodicFlush bounds how long a
  // line waits in the buffer when traffic is light.
  const destination = pino.destination({ fd: 1, sync: false, minLength: 3072, maxWrite: 4096, periodicFlush: options.flushMs ?? 500 })
  const logger = pino({ level: 'info', base, timestamp: pino.stdTimeFunctions.isoTime }, destination)
  return {
    logger,
    // end() writes what is buffered, then fsyncs; for fd 1 it does not close stdout.
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000)
        destination.once('close', () => {
          clearTimeout(timer)
          resolve()
        })
        destination.end()
      }),
  }
}
