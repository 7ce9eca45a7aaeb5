import http from 'node:http'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

/**
 * A small load generator for the reliability suites: keep-alive connections (as a load balancer
 * holds them), an open-loop schedule (requests are sent on time whatever the latency), and one
 * outcome per request, so a test can account for every request it sent.
 */

export interface Outcome {
  /** HTTP status, or undefined when no response arrived. */
  status: number | undefined
  /** The response body as text (capped), or the connection error. */
  body: string
  /** Connection-level error code (ECONNREFUSED, ECONNRESET, ...) when no response arrived. */
  error: string | undefined
  /** Whether the request was resent once on a fresh connection (see `post`). */
  retried: boolean
  /** Why it was resent: reset on a reused keep-alive connection, or on a new one. */
  resetOn: 'reused' | 'fresh' | undefined
  requestId: string
  latencyMs: number
  headers: http.IncomingHttpHeaders
}

export interface Client {
  post(path: string, body: string, headers?: Record<string, string>): Promise<Outcome>
  close(): void
}

let ids = 0
const runId = `${process.pid}-${Date.now().toString(36)}`

/**
 * A client over keep-alive connections. A request whose connection is reset before any response
 * byte is resent once on a fresh connection, as Node's documentation advises for reused sockets
 * (`request.reusedSocket`) and as proxies do (Envoy `retry_on: reset`). When a worker drains, Node
 * closes the connections that carry no request at that instant: a keep-alive connection the client
 * had just picked, or one accepted a moment earlier whose request bytes were not parsed yet. Such a
 * request was never read, so nothing is done twice; the tests check that against the prediction log.
 */
export function createClient(baseUrl: string, options: { maxSockets?: number; timeoutMs?: number } = {}): Client {
  const url = new URL(baseUrl)
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 })
  const timeoutMs = options.timeoutMs ?? 30_000
  const once = (path: string, body: string, headers: Record<string, string>, fresh: boolean) =>
    new Promise<{ status?: number; body: string; error?: string; reused: boolean; headers: http.IncomingHttpHeaders }>((resolve) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path,
          agent: fresh ? false : agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(fresh ? { connection: 'close' } : {}), ...headers },
          timeout: timeoutMs,
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            if (text.length < 4096) text += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode, body: text, reused: req.reusedSocket, headers: res.headers }))
          res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: res.statusCode, body: text, error: `response ${err.code ?? err.message}`, reused: req.reusedSocket, headers: res.headers }))
        },
      )
      req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })))
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ body: '', error: err.code ?? err.message, reused: req.reusedSocket, headers: {} }))
      req.end(body)
    })
  return {
    async post(path, body, headers = {}) {
      const requestId = headers['x-request-id'] ?? `load-${runId}-${++ids}`
      const all = { 'x-request-id': requestId, ...headers }
      const started = performance.now()
      let r = await once(path, body, all, false)
      let retried = false
      let resetOn: Outcome['resetOn']
      if (r.status === undefined && (r.error === 'ECONNRESET' || r.error === 'EPIPE')) {
        retried = true
        resetOn = r.reused ? 'reused' : 'fresh'
        r = await once(path, body, all, true)
      }
      return { status: r.status, body: r.body, error: r.error, retried, resetOn, requestId, latencyMs: performance.now() - started, headers: r.headers }
    },
    close: () => agent.destroy(),
  }
}

/**
 * Sends `rate` requests per second for `durationMs`, on schedule (open loop), and resolves with
 * every outcome once the last one has settled. `stop()` ends the schedule early.
 */
export function openLoop(options: { rate: number; durationMs: number; send: (i: number) => Promise<Outcome> }): { done: Promise<Outcome[]>; stop(): void; sent(): number } {
  const pending: Array<Promise<Outcome>> = []
  const total = Math.round((options.rate * options.durationMs) / 1000)
  const started = performance.now()
  let stopped = false
  let resolveDone!: (o: Outcome[]) => void
  const done = new Promise<Outcome[]>((r) => (resolveDone = r))
  const tick = (): void => {
    const due = Math.min(total, Math.floor(((performance.now() - started) * options.rate) / 1000))
    while (!stopped && pending.length < due) pending.push(options.send(pending.length))
    if (stopped || pending.length >= total) {
      clearInterval(timer)
      void Promise.all(pending).then(resolveDone)
    }
  }
  const timer = setInterval(tick, 5)
  return {
    done,
    stop() {
      stopped = true
    },
    sent: () => pending.length,
  }
}

/** Counts per status (or error code), e.g. `{ "200": 9998, "ECONNREFUSED": 2 }`. */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const o of outcomes) {
    const key = o.status !== undefined ? String(o.status) : (o.error ?? 'unknown')
    out[key] = (out[key] ?? 0) + 1
  }
  return out
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const round = (n: number): number => Math.round(n * 100) / 100
export const latencySummary = (outcomes: readonly Outcome[]) => {
  const ms = outcomes.map((o) => o.latencyMs)
  return { p50_ms: round(percentile(ms, 50)), p99_ms: round(percentile(ms, 99)), max_ms: round(Math.max(...ms)) }
}

const REPORT_DIR = fileURLToPath(new URL('../../.tmp/reliability/', import.meta.url))

/** Prints a result line and keeps it in `.tmp/reliability/<name>.json` for the closing report. */
export async function report(name: string, data: Record<string, unknown>): Promise<void> {
  console.info(`[reliability] ${name}: ${JSON.stringify(data)}`)
  await mkdir(REPORT_DIR, { recursive: true })
  await writeFile(`${REPORT_DIR}${name}.json`, JSON.stringify(data, null, 2) + '\n')
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb) * 1024
}

/**
 * The prediction log as a ledger: request id -> events written for it, from every JSONL file in
 * `dir` (each worker writes its own). One event per prediction the service made.
 */
export async function readLedger(dir: string): Promise<Map<string, number>> {
  const { readdir, readFile } = await import('node:fs/promises')
  const ids = new Map<string, number>()
  for (const file of await readdir(dir)) {
    for (const line of (await readFile(`${dir}/${file}`, 'utf8')).split('\n')) {
      if (line === '') continue
      const id = (JSON.parse(line) as { request_id: string }).request_id
      ids.set(id, (ids.get(id) ?? 0) + 1)
    }
  }
  return ids
}
