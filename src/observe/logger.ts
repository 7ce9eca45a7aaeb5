import { pino, type Logger } from 'pino'
import { logWriter } from './fd-writer.js'

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
 * own (`logWriter`: whole on a pipe shared by the workers, and no 100 ms sleep when it is full).
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { pid: process.pid, ...options.base }
  if (options.pretty) {
    return pino({ level: options.level, base, transport: { target: 'pino-pretty', options: { colorize: true, destination: options.fd ?? 1 } } })
  }
  return pino({ level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime }, { write: logWriter(options.fd ?? 1, 'the logger') })
}
