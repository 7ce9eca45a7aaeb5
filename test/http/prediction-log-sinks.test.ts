import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { scrape } from '../helpers/metrics.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/service/', import.meta.url))

let dir: string
let svc: RunningService | undefined
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-plog-sinks-'))
})
afterEach(async () => {
  await svc?.stop()
  svc = undefined
  await rm(dir, { recursive: true, force: true })
})

/** A one-worker service serving the `sum` fixture; `predictionLog` is JavaScript source (it may hold a sink object). */
async function start(predictionLogSource: string, prelude = ''): Promise<RunningService> {
  const config = join(dir, 'servekit.config.mjs')
  const base = { store: join(FIXTURES, 'models'), pollIntervalMs: 0, models: { sum: { module: join(FIXTURES, 'src/sum.ts') } } }
  await writeFile(config, `${prelude}\nexport default { ...${JSON.stringify(base)}, predictionLog: ${predictionLogSource} }\n`)
  svc = await startService({ config, workers: 1 })
  return svc
}

const infer = (url: string, i: number) => postJson(`${url}/infer`, { model_id: 'sum', features: { a: i }, request_id: `req-${i}` })

describe('prediction log: a full buffer (black-box)', () => {
  it('drops and counts events while the sink is stuck, answers every request, and flushes what it kept on SIGTERM', async () => {
    // A user sink (type: custom) whose writes wait until the test creates a "release" file.
    const prelude = `
import { appendFileSync, existsSync } from 'node:fs'
const release = ${JSON.stringify(join(dir, 'release'))}
const out = ${JSON.stringify(join(dir, 'written.jsonl'))}
const stuck = {
  async write(batch) {
    while (!existsSync(release)) await new Promise((r) => setTimeout(r, 20))
    appendFileSync(out, batch.map((e) => JSON.stringify(e) + '\\n').join(''))
  },
  async close() {},
}`
    const s = await start(`{ sink: { type: 'custom', name: 'stuck', sink: stuck }, bufferSize: 5, maxBatch: 1, flushIntervalMs: 20 }`, prelude)
    for (let i = 0; i < 40; i++) expect((await infer(s.url, i)).status).toBe(200)

    const m = await scrape(s.url)
    // Five events held (one being written, four queued); the other 35 dropped and counted.
    expect(m.get('servekit_prediction_log_dropped_total')).toBe(35)
    expect(m.get('servekit_prediction_log_events_total{sink="stuck",outcome="written"}')).toBe(0)
    expect(m.get('servekit_requests_total{model="sum",version="2",code="200"}')).toBe(40)

    await writeFile(join(dir, 'release'), '')
    expect(await s.stop()).toBe(0)
    const written = (await readFile(join(dir, 'written.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(written.map((e) => e.request_id)).toEqual(['req-0', 'req-1', 'req-2', 'req-3', 'req-4'])
  })
})

describe('prediction log: stdout sink (black-box)', () => {
  it('prints one JSON line per event beside the logs', async () => {
    const s = await start(`{ sink: { type: 'stdout' } }`)
    for (let i = 0; i < 5; i++) expect((await infer(s.url, i)).status).toBe(200)
    expect(await s.stop()).toBe(0)
    // Every log line (the access log's too) has a level; an event has none.
    const events = s.logs.filter((l) => !('level' in l))
    expect(events.map((e) => e['request_id']).sort()).toEqual(['req-0', 'req-1', 'req-2', 'req-3', 'req-4'])
    expect(events[0]).toMatchObject({ model_id: 'sum', model_version: '2', arm: null, shadows: [] })
  })
})

describe('prediction log: stdout sink with several workers (black-box)', () => {
  it('keeps every line whole while two workers write events and access logs to the same pipe under load', async () => {
    const config = join(dir, 'servekit.config.mjs')
    const base = { store: join(FIXTURES, 'models'), pollIntervalMs: 0, models: { echo: { module: join(FIXTURES, 'src/echo.ts') } } }
    await writeFile(config, `export default { ...${JSON.stringify(base)}, predictionLog: { sink: { type: 'stdout' } } }\n`)
    svc = await startService({ config, workers: 2 })
    // ~2 KB events (the features twice: as features and in the output), from both workers at once.
    const text = 'é'.repeat(200) + 'x'.repeat(500)
    let next = 0
    let ok = 0
    const lane = async (): Promise<void> => {
      while (next < 1500) {
        const i = next++
        const res = await fetch(`${svc!.url}/infer`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ model_id: 'echo', features: { i, text }, request_id: `load-${i}` }) })
        await res.arrayBuffer()
        if (res.status === 200) ok++
      }
    }
    await Promise.all(Array.from({ length: 32 }, lane))
    expect(ok).toBe(1500)
    expect(await svc.stop()).toBe(0)
    // A line torn by another process's write is not JSON: the helper files it under stderr.
    expect(svc.stderr.filter((l) => l.includes('"request_id"') || l.includes('"level"'))).toEqual([])
    const events = svc.logs.filter((l) => !('level' in l))
    expect(events).toHaveLength(1500)
    expect(new Set(events.map((e) => e['request_id'])).size).toBe(1500)
    expect(svc.logs.filter((l) => l['log'] === 'access')).toHaveLength(1500)
  }, 60_000)
})

describe('prediction log: off', () => {
  it('writes nothing and creates no directory when disabled', async () => {
    const s = await start(`{ enabled: false, sink: { type: 'jsonl', dir: './plogs' } }`)
    expect((await infer(s.url, 0)).status).toBe(200)
    expect(await s.stop()).toBe(0)
    await expect(readFile(join(dir, 'plogs'))).rejects.toThrow(/ENOENT/)
  })
})
