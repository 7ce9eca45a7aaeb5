// Open-loop load generator: sends POST requests at a fixed rate whatever the server's latency,
// so a slow response cannot delay the requests behind it (no coordinated omission).
//
//   node bench/open-loop.mjs --url http://127.0.0.1:8080/infer --body-file body.json --rate 1000 --duration 5
//
// Raw keep-alive TCP connections (a pool that grows when every connection is busy) and a
// pre-built request, so the generator itself costs a few microseconds per request. Every request
// has a scheduled send time (start + i / rate). Its latency is measured from the moment it was due
// to the moment its response's last byte arrived: if the generator's timer fires late, or no
// connection is free, the wait counts against the request, as in wrk2. The generator's own lag
// (actual send - scheduled) is reported separately so it can be told apart from the server's.
// Prints one JSON line on stdout; with --samples it also carries every latency (integer µs), so that
// runs can be merged exactly.
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'

const { values: a } = parseArgs({
  options: {
    url: { type: 'string' },
    'body-file': { type: 'string' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '0' },
    'max-connections': { type: 'string', default: '512' },
    'timeout-ms': { type: 'string', default: '2000' },
    samples: { type: 'boolean', default: false },
  },
})
const url = new URL(a.url)
const rate = Number(a.rate)
const durationMs = Number(a.duration) * 1000
const timeoutMs = Number(a['timeout-ms'])
const maxConnections = Number(a['max-connections'])
const body = readFileSync(a['body-file'])
const request = Buffer.concat([
  Buffer.from(`POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`),
  body,
])

const total = Math.round((rate * durationMs) / 1000)
const intervalMs = 1000 / rate
const latency = new Float64Array(total) // ms, from scheduled send to response
const lag = new Float64Array(total) // ms, from scheduled send to the clock waking the generator for it
const service = new Float64Array(total) // ms, from write to response (what a closed-loop client would see)
let completed = 0
let sent = 0
let dispatched = 0
let lastDone = 0
let non2xx = 0
let socketErrors = 0
let timeouts = 0
const statuses = {}

const now = () => performance.now()
const idle = []
const waiting = [] // scheduled times of requests with no free connection yet
let open = 0
let t0 = 0

/** One keep-alive connection: at most one request in flight, responses parsed by Content-Length. */
function connect() {
  open++
  const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true })
  const conn = { socket, due: -1, sentAt: 0, idleSince: 0, buf: Buffer.alloc(0), alive: true }
  socket.on('connect', () => release(conn))
  socket.on('data', (chunk) => {
    conn.buf = conn.buf.length === 0 ? chunk : Buffer.concat([conn.buf, chunk])
    for (;;) {
      const end = conn.buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = conn.buf.subarray(0, end).toString('latin1')
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head)
      if (m === null) {
        // Chunked or close-delimited bodies are not what these servers send.
        return drop(conn)
      }
      const size = end + 4 + Number(m[1])
      if (conn.buf.length < size) return
      conn.buf = conn.buf.subarray(size)
      const status = Number(head.slice(9, 12))
      statuses[status] = (statuses[status] ?? 0) + 1
      if (status < 200 || status > 299) non2xx++
      if (conn.due >= 0) {
        const t = now()
        service[completed] = t - conn.sentAt
        latency[completed++] = t - conn.due
        lastDone = t
        conn.due = -1
      }
      if (/\r\nconnection:\s*close/i.test(head)) return drop(conn)
      release(conn)
    }
  })
  socket.on('error', () => drop(conn))
  socket.on('close', () => drop(conn))
}

function drop(conn) {
  if (!conn.alive) return
  conn.alive = false
  open--
  conn.socket.destroy()
  const i = idle.indexOf(conn)
  if (i >= 0) idle.splice(i, 1)
  if (conn.due >= 0) {
    // Lost in flight (the server closed or reset the connection): an error, not a latency.
    socketErrors++
    conn.due = -1
  }
  if (waiting.length > 0 && open < maxConnections) connect()
}

function release(conn) {
  if (!conn.alive) return
  if (waiting.length > 0) return write(conn, waiting.shift())
  conn.idleSince = now()
  idle.push(conn)
}

function write(conn, due) {
  conn.due = due
  conn.sentAt = now()
  sent++
  conn.socket.write(request)
}

// Like undici, a connection idle for a second is not reused: the server may be closing it (keep-alive
// timeouts are 2 s for Gunicorn, 5 s for node:http), and a request written into a closing connection
// is lost. The most recently used connection is taken first, so few stay busy.
const MAX_IDLE_MS = 1000

function dispatch(due) {
  lag[dispatched++] = now() - due
  for (let conn = idle.pop(); conn !== undefined; conn = idle.pop()) {
    if (now() - conn.idleSince < MAX_IDLE_MS) return write(conn, due)
    drop(conn)
  }
  waiting.push(due)
  if (open < maxConnections) connect()
}

// The clock: a worker thread sleeps precisely (Atomics.wait takes fractional milliseconds, where
// timers round to whole ones) and wakes this thread when the next request is due; a message wakes
// the event loop at once. Each wake-up sends every request that is due by then.
function startClock(onTick) {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads')
    const cell = new Int32Array(new SharedArrayBuffer(4))
    const { startEpoch, intervalMs, total } = workerData
    for (let next = 0; next < total; next++) {
      const wait = startEpoch + next * intervalMs - (performance.timeOrigin + performance.now())
      if (wait > 0) Atomics.wait(cell, 0, 0, wait)
      parentPort.postMessage(next)
    }
  `
  const start = now() + 200
  const w = new Worker(src, { eval: true, workerData: { startEpoch: performance.timeOrigin + start, intervalMs, total } })
  w.on('message', onTick)
  return start
}

// Open the initial pool, then run the schedule.
for (let i = 0; i < Number(a.connections); i++) connect()
let next = 0
t0 = startClock(() => {
  const due = now() - t0
  while (next < total && next * intervalMs <= due + 0.02) dispatch(t0 + next++ * intervalMs)
  if (next >= total && !finishing) {
    finishing = true
    finish()
  }
})
let finishing = false

function finish() {
  const deadline = now() + timeoutMs
  const poll = setInterval(() => {
    if (completed + socketErrors >= total || now() > deadline) {
      clearInterval(poll)
      timeouts = Math.max(0, total - completed - socketErrors)
      report()
    }
  }, 5)
}

function pct(sorted, p) {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return round(sorted[Math.max(0, i)])
}
const round = (x) => Math.round(x * 1000) / 1000

function report() {
  const elapsedS = Math.max(durationMs, lastDone - t0) / 1000
  const lat = latency.subarray(0, completed).sort()
  const lg = lag.subarray(0, dispatched).sort()
  const sv = service.subarray(0, completed).sort()
  const out = {
    rate,
    duration_s: durationMs / 1000,
    scheduled: total,
    sent,
    completed,
    achieved_rps: Math.round(completed / elapsedS),
    errors: { socket: socketErrors, timeout: timeouts, non2xx },
    statuses,
    latency_ms: { p50: pct(lat, 50), p90: pct(lat, 90), p99: pct(lat, 99), p999: pct(lat, 99.9), max: lat.length ? round(lat[lat.length - 1]) : null, mean: lat.length ? round(lat.reduce((s, x) => s + x, 0) / lat.length) : null },
    latency_from_send_ms: { p50: pct(sv, 50), p99: pct(sv, 99), p999: pct(sv, 99.9) },
    send_lag_ms: { p50: pct(lg, 50), p99: pct(lg, 99), max: lg.length ? round(lg[lg.length - 1]) : null },
  }
  if (a.samples) out.samples_us = { latency: Array.from(lat, (x) => Math.round(x * 1000)), from_send: Array.from(sv, (x) => Math.round(x * 1000)) }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0))
}
