import { NEWLINE, type JsonLines } from './json-lines.js'
import { JsonTextSink } from './sink.js'

export interface HttpSinkOptions {
  url: string
  /** Whole request, connect to response body read; a slower answer is a failed write. */
  timeoutMs: number
  /** Sent with every request, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Readonly<Record<string, string>>
}

/** POSTs each batch as a JSON array; any status other than 2xx is a failed write (and retried). */
export class HttpSink extends JsonTextSink {
  private readonly headers: Record<string, string>

  constructor(private readonly options: HttpSinkOptions) {
    super()
    this.headers = { ...options.headers, 'content-type': 'application/json' }
  }

  async writeJson(batch: JsonLines): Promise<void> {
    const body = jsonArray(batch)
    const res = await fetch(this.options.url, { method: 'POST', headers: this.headers, body, signal: AbortSignal.timeout(this.options.timeoutMs) })
    // Read the body either way: an unread body keeps the connection from going back to the pool.
    const text = await res.text()
    if (!res.ok) throw new Error(`prediction log: POST ${redact(this.options.url)} answered ${res.status}: ${text.slice(0, 200)}`)
  }

  async close(): Promise<void> {}
}

/** The URL without its credentials, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.username || u.password) {
      u.username = '***'
      u.password = ''
    }
    return u.toString()
  } catch {
    return '(invalid url)'
  }
}

/** The batch as one JSON array, in a buffer of its own (the batch's buffers are reused once the write settles). */
function jsonArray(batch: JsonLines): Buffer {
  const bytes = batch.chunks.reduce((n, c) => n + c.length, 0)
  if (bytes === 0) return Buffer.from('[]')
  // "[" + the lines, each newline becoming "," and the last one "]": one byte more than the lines.
  const body = Buffer.allocUnsafe(bytes + 1)
  body[0] = OPEN
  let at = 1
  for (const chunk of batch.chunks) at += chunk.copy(body, at)
  for (let i = body.indexOf(NEWLINE, 1); i !== -1; i = body.indexOf(NEWLINE, i + 1)) body[i] = i === bytes ? CLOSE : COMMA
  return body
}

const OPEN = 0x5b
const COMMA = 0x2c
const CLOSE = 0x5d
