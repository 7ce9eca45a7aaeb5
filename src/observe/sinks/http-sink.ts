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

  async writeJson(batch: readonly string[]): Promise<void> {
    const body = `[${batch.join(',')}]`
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
