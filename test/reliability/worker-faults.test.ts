import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type RunningService } from '../helpers/start-service.js'
import { scrape } from '../helpers/metrics.js'
import { createClient, openLoop, readLedger, report, tally } from './load-client.js'
import { httpRequest, rawRequest } from './raw-http.js'

// Model code that takes the whole worker down or makes it useless: a synchronous infinite loop
// (the watchdog kills it), process.exit, a native crash (SIGSEGV), a memory leak (the RSS ceiling
// recycles it). The other workers keep serving, and the primary puts a new worker in its place.

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))
const WATCHDOG_MS = 1000
const MAX_RSS_MB = 300

const post = (model: string, features: unknown = {}) => httpRequest('POST', '/infer', JSON.stringify({ model_id: model, features }))
const pidOf = (line: string): number => Number(line.split(' ')[1])
const workerPids = (svc: RunningService): Set<number> => new Set(svc.logs.filter((l) => l.role === 'worker').map((l) => l.pid))

/** Resolves once a worker that is not in `known` listens (a replacement is up). */
const newWorker = (svc: RunningService, known: Set<number>) => svc.waitForLog((l) => l.msg === 'worker listening' && !known.has(l['worker_pid'] as number), 30_000)

async function allOk(svc: RunningService, n = 20): Promise<void> {
  const statuses = await Promise.all(Array.from({ length: n }, () => rawRequest(svc.port, post('ok', { x: 1 })).then((r) => r.status)))
  expect(statuses).toEqual(Array(n).fill(200))
}

describe('faults that take a worker down', () => {
  let svc: RunningService
  const rows: Record<string, unknown>[] = []
  beforeAll(async () => {
    svc = await startService({ config: CONFIG, workers: 2, env: { SERVEKIT_TEST_WATCHDOG_MS: String(WATCHDOG_MS) } })
  })
  afterAll(async () => {
    expect(await svc.stop()).toBe(0)
    await report('worker-faults', { faults: rows })
  })

  it('a synchronous infinite loop: the watchdog kills the stuck worker, its request fails, the other worker keeps serving', async () => {
    const known = workerPids(svc)
    const spin = rawRequest(svc.port, post('spin'), { timeoutMs: 20_000 })
    const stuck = pidOf(await findStderr(svc, 'spin:start'))
    // While one worker is stuck, the other answers. At most one new connection is lost: the one the
    // primary handed to the stuck worker before seeing it was stuck (it hands a worker one at a time).
    const during = await Promise.all(Array.from({ length: 10 }, () => rawRequest(svc.port, post('ok', { x: 1 }), { timeoutMs: 5_000 })))
    expect(during.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(9)
    expect(during.every((r) => r.status === 200 || r.status === undefined)).toBe(true)
    const killed = await svc.waitForLog((l) => l.msg === 'worker event loop blocked; killing it (watchdog)' && l['worker_pid'] === stuck)
    expect(killed['silent_ms']).toBeGreaterThan(WATCHDOG_MS)
    const res = await spin
    expect(res.status).toBeUndefined() // the connection closed with the worker: no answer
    await svc.waitForLog((l) => l.msg === 'worker died; restarting it' && l['worker_pid'] === stuck && l['reason'] === 'watchdog')
    await newWorker(svc, known)
    await allOk(svc)
    expect((await scrape(svc.url)).get('servekit_worker_restarts_total{reason="watchdog"}')).toBe(1)
    rows.push({ fault: 'sync infinite loop', answer: 'connection closed after watchdog kill', lost_other: 10 - during.filter((r) => r.status === 200).length, replaced: true })
  })

  it.each([
    ['exit', 'process.exit(3)', (l: Record<string, unknown>) => l['code'] === 3],
    ['segv', 'SIGSEGV (native crash)', (l: Record<string, unknown>) => l['signal'] === 'SIGSEGV'],
  ])('%s (%s): the worker is replaced; requests running on the other worker finish', async (model, fault, how) => {
    const known = workerPids(svc)
    // Requests in flight on both workers when the crash comes. 800 ms each, so that even an uneven
    // split (the primary hands connections to whichever worker is free: 5 and 1 on a loaded
    // machine), which queues the fifth behind `work`'s 4 running, ends within its 2 s timeout.
    const tags = Array.from({ length: 6 }, (_, i) => `${model}-w${i}`)
    const inflight = tags.map((tag) => rawRequest(svc.port, post('work', { ms: 800, tag }), { timeoutMs: 20_000 }))
    const placed = new Map<string, number>()
    for (const tag of tags) placed.set(tag, pidOf(await findStderr(svc, `work:start`, ` ${tag}`)))
    expect(new Set(placed.values()).size).toBe(2)
    const crash = rawRequest(svc.port, post(model), { timeoutMs: 20_000 })
    const dead = pidOf(await findStderr(svc, `${model}:start`))
    await svc.waitForLog((l) => l.msg === 'worker died; restarting it' && l['worker_pid'] === dead && l['reason'] === 'crash' && how(l))
    expect((await crash).status).toBeUndefined()
    const outcomes = await Promise.all(inflight)
    tags.forEach((tag, i) => {
      // Requests on the other worker are all answered. Those on the crashed worker die with it
      // (or finished before the crash, on a machine slow enough to delay it): never an error answer.
      if (placed.get(tag) === dead) expect([undefined, 200]).toContain(outcomes[i]!.status)
      else expect(outcomes[i]!.status).toBe(200)
    })
    await newWorker(svc, known)
    await allOk(svc)
    const survivors = tags.filter((t) => placed.get(t) !== dead).length
    const onDead = tags.filter((t) => placed.get(t) === dead)
    rows.push({ fault, answer: 'connection closed', inflight_on_other_worker: survivors, answered_200: survivors, inflight_on_crashed_worker: onDead.length, lost_with_it: onDead.filter((t) => outcomes[tags.indexOf(t)]!.status === undefined).length, replaced: true })
  })

  it('counts the crashes', async () => {
    const m = await scrape(svc.url)
    expect(m.get('servekit_worker_restarts_total{reason="crash"}')).toBe(2)
  })
})

describe('the memory ceiling', () => {
  let svc: RunningService
  let logDir: string
  beforeAll(async () => {
    logDir = await mkdtemp(join(tmpdir(), 'servekit-memory-log-'))
    // Far above a worker's ~110 MiB at rest, so only the leak reaches it. Writing 32 MiB takes this
    // machine up to ~150 ms (more when it is shared), so the watchdog is back at its default 5 s
    // here, and the request timeout at its default 10 s: the fixture's 2 s (for the slow-client
    // tests) could cut off a background request whose body waits behind a long leak write.
    svc = await startService({
      config: CONFIG,
      workers: 2,
      env: { SERVEKIT_TEST_MAX_RSS_MB: String(MAX_RSS_MB), SERVEKIT_TEST_WATCHDOG_MS: '5000', SERVEKIT_TEST_REQUEST_TIMEOUT_MS: '10000', SERVEKIT_TEST_LOG_DIR: logDir },
    })
  })
  afterAll(async () => {
    await svc.stop()
    await rm(logDir, { recursive: true, force: true })
  })

  it('a leaking worker is replaced gracefully: new worker first, then the old one drains; no request lost', async () => {
    const client = createClient(svc.url)
    const body = JSON.stringify({ model_id: 'ok', features: { x: 1 } })
    const load = openLoop({ rate: 100, durationMs: 60_000, send: () => client.post('/infer', body) })
    // Leak 32 MiB per request until a worker passes the ceiling.
    let leaked = 0
    while (!svc.logs.some((l) => l.msg === 'worker above its memory ceiling; replacing it') && leaked < 40) {
      expect((await rawRequest(svc.port, post('leak', { mb: 32 }))).status).toBe(200)
      leaked++
      await new Promise((r) => setTimeout(r, 150))
    }
    const over = await svc.waitForLog((l) => l.msg === 'worker above its memory ceiling; replacing it')
    const old = over['worker_pid'] as number
    // Slow requests accepted now, some by the worker about to drain, must all be answered.
    const slow = Array.from({ length: 6 }, (_, i) => rawRequest(svc.port, post('work', { ms: 1000, tag: `mem-${i}` }), { timeoutMs: 30_000 }))
    const replaced = await svc.waitForLog((l) => l.msg === 'worker replaced' && l['worker_pid'] === old, 60_000)
    expect(replaced).toMatchObject({ reason: 'memory', code: 0 })
    expect(svc.logs.some((l) => l.pid === old && l.msg === 'worker draining' && l['reason'] === 'replaced (memory)')).toBe(true)
    // The replacement listened before the old worker was told to drain.
    const drainAt = svc.logs.findIndex((l) => l.pid === old && l.msg === 'worker draining')
    const startAt = svc.logs.findIndex((l) => l.msg === 'starting a replacement worker' && l['worker_pid'] === old)
    expect(startAt).toBeGreaterThanOrEqual(0)
    expect(startAt).toBeLessThan(drainAt)
    const slowDone = await Promise.all(slow)
    expect(slowDone.map((r) => r.status)).toEqual(Array(6).fill(200))
    load.stop()
    const outcomes = await load.done
    client.close()
    // Scrape once every replacement listens: a worker still starting cannot answer the aggregation.
    await waitForReplacements(svc)
    expect(tally(outcomes)).toEqual({ '200': outcomes.length })
    expect((await scrape(svc.url)).get('servekit_worker_restarts_total{reason="memory"}')).toBeGreaterThanOrEqual(1)
    // The prediction log is the ledger: every prediction made was answered, each exactly once.
    expect(await svc.stop()).toBe(0)
    const ledger = await readLedger(logDir)
    const answeredIds = [...outcomes.map((o) => o.requestId), ...slowDone.map((r) => r.headers['x-request-id']!)]
    expect(answeredIds.filter((id) => ledger.get(id) !== 1)).toEqual([])
    expect(ledger.size).toBe(answeredIds.length + leaked)
    await report('memory-ceiling', { max_rss_mb: MAX_RSS_MB, leaked_requests: leaked, background_requests: outcomes.length, statuses: tally(outcomes), resent_after_reset: outcomes.filter((o) => o.retried).length, slow_requests_answered: 6, ledger_events: ledger.size })
  })
})

/** The first stderr line starting with `prefix` (and ending with `suffix`), waiting for it. */
async function findStderr(svc: RunningService, prefix: string, suffix = ''): Promise<string> {
  const match = (l: string) => l.startsWith(prefix) && l.endsWith(suffix)
  await svc.waitForStderr(match)
  return svc.stderr.filter(match).at(-1)!
}

/** Waits until as many replacement workers listen as were started. */
async function waitForReplacements(svc: RunningService): Promise<void> {
  const started = () => svc.logs.filter((l) => l.msg === 'starting a replacement worker').length
  const listening = () => svc.logs.filter((l) => l.msg === 'worker listening').length
  await svc.waitForLog(() => listening() >= started(), 30_000)
}

describe('a replacement that never finishes loading', () => {
  let svc: RunningService
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'servekit-hang-flag-'))
    svc = await startService({ config: CONFIG, workers: 2, env: { SERVEKIT_TEST_HANG_FLAG: join(dir, 'hang'), SERVEKIT_TEST_STARTUP_TIMEOUT_MS: '3000' } })
  })
  afterAll(async () => {
    expect(await svc.stop()).toBe(0)
    await rm(dir, { recursive: true, force: true })
  })

  it('is stopped after server.startupTimeoutMs; the rolling restart stops and the old workers keep serving', async () => {
    const before = workerPids(svc)
    // From now on a new worker's load of hang_on_flag never finishes.
    await writeFile(join(dir, 'hang'), '')
    svc.proc.kill('SIGHUP')
    const timedOut = await svc.waitForLog((l) => l.msg === 'replacement worker did not listen in time; stopping it', 20_000)
    expect(timedOut).toMatchObject({ startup_timeout_ms: 3000 })
    expect(before.has(timedOut['replacing_pid'] as number)).toBe(true)
    await svc.waitForLog((l) => l.msg === 'replacement worker failed to start; keeping the old one')
    await svc.waitForLog((l) => l.msg === 'rolling restart stopped: a replacement failed to start (or shutting down)')
    // Both original workers still serve, and nothing else took their place.
    await allOk(svc, 40)
    expect(svc.logs.some((l) => l.msg === 'worker replaced')).toBe(false)
    const m = await scrape(svc.url)
    expect(m.get('servekit_worker_restarts_total{reason="startup"}')).toBe(1)
    expect(m.get('servekit_worker_restarts_total{reason="crash"}')).toBe(0)
    // A second SIGHUP once the first ended is taken again (not refused as "in progress").
    await rm(join(dir, 'hang'))
    svc.proc.kill('SIGHUP')
    await svc.waitForLog((l) => l.msg === 'rolling restart finished', 60_000)
    await allOk(svc)
  })
})
