import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { scrape } from '../helpers/metrics.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/service/', import.meta.url))
const FILE_NAME = /^predictions-\d{8}T\d{9}Z-\d+-\d{6}\.jsonl$/

let dir: string
let svc: RunningService | undefined
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-plog-http-'))
})
afterEach(async () => {
  await svc?.stop()
  svc = undefined
  await rm(dir, { recursive: true, force: true })
})

/** A service serving the `sum` fixture (version 2: features summed, plus 100) with `predictionLog` as given. */
async function start(predictionLog: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<RunningService> {
  const config = join(dir, 'servekit.config.mjs')
  const body = { store: join(FIXTURES, 'models'), pollIntervalMs: 0, models: { sum: { module: join(FIXTURES, 'src/sum.ts') } }, predictionLog, ...extra }
  await writeFile(config, `export default ${JSON.stringify(body)}\n`)
  svc = await startService({ config, workers: 2 })
  return svc
}

/** Every event in the JSONL directory, and the files' names and sizes. */
async function readEvents(logDir: string): Promise<{ files: Array<{ name: string; bytes: number }>; events: any[] }> {
  const names = (await readdir(logDir)).sort()
  const files = await Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(logDir, name))).size })))
  const events: any[] = []
  for (const name of names) {
    for (const line of (await readFile(join(logDir, name), 'utf8')).split('\n')) if (line !== '') events.push(JSON.parse(line))
  }
  return { files, events }
}

/** `n` /infer requests to `sum`, `clients` at a time, each with its own request id; returns the answers by id. */
async function send(url: string, n: number, clients = 8): Promise<Map<string, { status: number; body: any; features: Record<string, number> }>> {
  const answers = new Map<string, { status: number; body: any; features: Record<string, number> }>()
  let next = 0
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        const i = next++
        const features = { a: i, b: 0.5 }
        // connection: close spreads the requests over both workers.
        const res = await postJson(`${url}/infer`, { model_id: 'sum', features, request_id: `req-${i}` }, { connection: 'close' })
        answers.set(`req-${i}`, { status: res.status, body: res.body, features })
      }
    }),
  )
  return answers
}

/** Polls /metrics until `pred` holds (events are flushed asynchronously), failing after 15 s. */
async function untilMetrics(url: string, pred: (m: Map<string, number>) => boolean): Promise<Map<string, number>> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const m = await scrape(url)
    if (pred(m)) return m
    if (Date.now() > deadline) throw new Error(`metrics never matched; prediction log series: ${[...m].filter(([k]) => k.includes('prediction_log')).join(', ')}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const WRITTEN = 'servekit_prediction_log_events_total{sink="jsonl",outcome="written"}'

describe('prediction log: JSONL files (black-box)', () => {
  it('writes one event per request, with every field, while serving and before shutdown', async () => {
    const logDir = join(dir, 'plogs')
    const s = await start({ sink: { type: 'jsonl', dir: './plogs' }, flushIntervalMs: 100 })
    const before = Date.now()
    const answers = await send(s.url, 300)
    expect([...answers.values()].every((a) => a.status === 200)).toBe(true)

    // Flushed within flushIntervalMs while serving, not only at shutdown.
    const m = await untilMetrics(s.url, (m) => m.get(WRITTEN) === 300)
    expect(m.get('servekit_prediction_log_dropped_total')).toBe(0)
    expect(m.get('servekit_prediction_log_events_total{sink="jsonl",outcome="failed"}')).toBe(0)
    expect((await readEvents(logDir)).events).toHaveLength(300)

    expect(await s.stop()).toBe(0)
    const { files, events } = await readEvents(logDir)
    for (const f of files) expect(f.name).toMatch(FILE_NAME)
    expect(events.map((e) => e.request_id).sort()).toEqual([...answers.keys()].sort())
    for (const e of events) {
      const sent = answers.get(e.request_id)!
      expect(Object.keys(e).sort()).toEqual(['arm', 'features', 'latency_ms', 'model_id', 'model_version', 'output', 'request_id', 'shadows', 'ts'])
      expect(e).toMatchObject({ model_id: 'sum', model_version: '2', arm: null, features: sent.features, output: sent.body.output, shadows: [] })
      expect(e.latency_ms).toBeGreaterThanOrEqual(0)
      // Milliseconds to the microsecond.
      expect(Math.round(e.latency_ms * 1000) / 1000).toBe(e.latency_ms)
      expect(Date.parse(e.ts)).toBeGreaterThanOrEqual(before - 1000)
      expect(Date.parse(e.ts)).toBeLessThanOrEqual(Date.now())
    }
  })

  it('writes the features as the client sent them: the text of compact features copied, other features re-encoded, one line each', async () => {
    const logDir = join(dir, 'plogs')
    const s = await start({ sink: { type: 'jsonl', dir: './plogs' } })
    const bodies = [
      '{"model_id":"sum","features":{"a":1.50,"b":2e1},"request_id":"compact"}',
      '{\n  "model_id": "sum",\n  "features": {\n    "a": 1.50,\n    "b": 2e1\n  },\n  "request_id": "pretty"\n}\n',
      '{"request_id":"first","features":{"z":-0.0,"y":1E2},"model_id":"sum"}',
    ]
    for (const body of bodies) {
      const res = await fetch(`${s.url}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      expect(res.status).toBe(200)
    }
    expect(await s.stop()).toBe(0)
    // Each worker writes files of its own.
    const lines = (await Promise.all((await readdir(logDir)).map((f) => readFile(join(logDir, f), 'utf8')))).flatMap((t) => t.split('\n')).filter((l) => l !== '')
    expect(lines).toHaveLength(3)
    const byId = new Map(lines.map((l) => [JSON.parse(l).request_id as string, l]))
    expect(byId.get('compact')).toContain('"features":{"a":1.50,"b":2e1},')
    expect(byId.get('pretty')).toContain('"features":{"a":1.5,"b":20},')
    expect(byId.get('first')).toContain('"features":{"z":-0.0,"y":1E2},')
    expect(['compact', 'pretty', 'first'].map((id) => JSON.parse(byId.get(id)!).output)).toEqual([1021.5, 1021.5, 1100])
  })

  it('rotates by size: many files, none past maxBytes, every event once', async () => {
    const logDir = join(dir, 'plogs')
    const s = await start({ sink: { type: 'jsonl', dir: logDir, maxBytes: 2048 }, maxBatch: 16, flushIntervalMs: 50 })
    const answers = await send(s.url, 400)
    expect(await s.stop()).toBe(0)
    const { files, events } = await readEvents(logDir)
    expect(files.length).toBeGreaterThan(10)
    for (const f of files) expect(f.bytes).toBeLessThanOrEqual(2048)
    expect(events.map((e) => e.request_id).sort()).toEqual([...answers.keys()].sort())
  })

  it('samples at the per-model rate, which overrides sampleRate', async () => {
    const logDir = join(dir, 'plogs')
    // Monitoring off: the prediction log is then the only listener, and alone decides what is recorded.
    const s = await start({ sink: { type: 'jsonl', dir: logDir }, sampleRate: 0, models: { sum: { sampleRate: 0.5 } } }, { monitoring: { enabled: false } })
    await send(s.url, 2_000)
    expect(await s.stop()).toBe(0)
    const { events } = await readEvents(logDir)
    // 2 000 draws at p = 0.5: the standard deviation is about 22; the bounds are over 5 of them.
    expect(events.length).toBeGreaterThan(880)
    expect(events.length).toBeLessThan(1_120)
  })

  it('loses no accepted event on SIGTERM under load: events equal 200 responses', async () => {
    const logDir = join(dir, 'plogs')
    // A long interval and large batches: whatever is still buffered at SIGTERM must be flushed by close.
    const s = await start({ sink: { type: 'jsonl', dir: logDir }, flushIntervalMs: 60_000, maxBatch: 5_000, bufferSize: 100_000 })
    const ok = new Set<string>()
    let refused = 0
    let stopping: Promise<number | null> | undefined
    let seq = 0
    await Promise.all(
      Array.from({ length: 16 }, async (_, client) => {
        // Bounded: each client sends at most 2 000 requests, and stops at its first failure.
        for (let n = 0; n < 2_000; n++) {
          const id = `c${client}-${seq++}`
          try {
            const res = await fetch(`${s.url}/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify({ model_id: 'sum', features: { a: n } }) })
            await res.text()
            if (res.status !== 200) {
              refused++
              return
            }
            ok.add(id)
          } catch {
            refused++ // connection refused or reset once the workers stopped accepting
            return
          }
          if (ok.size === 500 && stopping === undefined) stopping = s.stop(20_000)
        }
      }),
    )
    expect(stopping).toBeDefined()
    expect(await stopping).toBe(0)
    expect(refused).toBeGreaterThan(0) // the load really was still running at SIGTERM
    const { events } = await readEvents(logDir)
    expect(events).toHaveLength(ok.size)
    expect(new Set(events.map((e) => e.request_id))).toEqual(ok)
  })
})
