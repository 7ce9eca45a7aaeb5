import net from 'node:net'

export interface RawResponse {
  /** Status of the first response, or undefined when the server closed without one. */
  status: number | undefined
  headers: Record<string, string>
  body: string
  /** Parsed JSON body, when it is JSON. */
  json: any
  /** Whole bytes received. */
  raw: string
  /** The server closed the connection (as opposed to the client timing out). */
  closedByServer: boolean
  elapsedMs: number
}

/**
 * Writes raw bytes to the server and reads until it closes the connection (or `timeoutMs`): the
 * way to send what fetch refuses to build (a lying content-length, bad chunking, a header flood).
 * Requests should carry `connection: close` so a normal answer ends the connection.
 */
export function rawRequest(port: number, data: string | Buffer | Array<string | Buffer>, options: { timeoutMs?: number; endAfterWrite?: boolean; gapMs?: number } = {}): Promise<RawResponse> {
  const started = performance.now()
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    let closedByServer = false
    let settled = false
    const finish = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const raw = Buffer.concat(chunks).toString('latin1')
      resolve({ ...parse(raw), raw, closedByServer, elapsedMs: performance.now() - started })
    }
    const timer = setTimeout(finish, options.timeoutMs ?? 10_000)
    socket.on('data', (c) => chunks.push(c))
    socket.on('end', () => {
      closedByServer = true
      finish()
    })
    socket.on('close', () => {
      closedByServer = true
      finish()
    })
    socket.on('error', () => {
      closedByServer = true
      finish()
    })
    socket.on('connect', async () => {
      const parts = Array.isArray(data) ? data : [data]
      for (const part of parts) {
        if (socket.destroyed) return
        socket.write(part)
        if (options.gapMs && parts.length > 1) await new Promise((r) => setTimeout(r, options.gapMs))
      }
      if (options.endAfterWrite) socket.end()
    })
  })
}

function parse(raw: string): Pick<RawResponse, 'status' | 'headers' | 'body' | 'json'> {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw)
  if (!m) return { status: undefined, headers: {}, body: raw, json: undefined }
  const end = raw.indexOf('\r\n\r\n')
  const head = end === -1 ? raw : raw.slice(0, end)
  const headers: Record<string, string> = {}
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  let body = end === -1 ? '' : raw.slice(end + 4)
  if (headers['content-length'] !== undefined) body = body.slice(0, Number(headers['content-length']))
  // Bodies are UTF-8; `raw` was read as latin1 to keep byte offsets.
  body = Buffer.from(body, 'latin1').toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    json = undefined
  }
  return { status: Number(m[1]), headers, body, json }
}

/** Builds an HTTP/1.1 request; `content-length` is computed unless given (pass null to leave it out). */
export function httpRequest(method: string, path: string, body?: string | Buffer, headers: Record<string, string | null> = {}): Buffer {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
  const all: Record<string, string | null> = { host: '127.0.0.1', connection: 'close', ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}), ...headers }
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(all).filter((e): e is [string, string] => e[1] !== null).map(([k, v]) => `${k}: ${v}`)]
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), payload])
}
