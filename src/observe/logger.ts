import { pino, type Logger } from 'pino'
import { writeAllSync } from './fd-writer.js'

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
 * `request_id`), the same as in HTTP bodies and docs. Each line is one synchronous write of its
 * own (`writeAllSync`: whole on a pipe shared by the workers, and no 100 ms sleep when it is full).
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { pid: process.pid, ...options.base }
  if (options.pretty) {
    return pino({ level: options.level, base, transport: { target: 'pino-pretty', options: { colorize: true, destination: options.fd ?? 1 } } })
  }
  const fd = options.fd ?? 1
  let warned = false
  const write = (line: string): void => {
    try {
      writeAllSync(fd, line)
    } catch (err) {
      // The output is gone (EPIPE): a log call must not throw into the code that logs. Said once.
      if (!warned) process.emitWarning(`servekit: the logger cannot write to fd ${fd}: ${(err as Error).message}`)
      warned = true
    }
  }
  return pino({ level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime }, { write })
}
