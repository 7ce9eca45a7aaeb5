import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startService, type RunningService } from '../helpers/start-service.js'
import { scrape } from '../helpers/metrics.js'
import { createClient, latencySummary, openLoop, readLedger, report, tally, type Outcome } from './load-client.js'

// Shutdown and deploy under load. SIGTERM: every request the service accepted is answered, every
// prediction-log event is flushed, and the process exits 0 within the grace period. SIGHUP: every
// worker is replaced one at a time (the new one listening before the old one drains), losing nothing.

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))
const SHUTDOWN_TIMEOUT_MS = 10_000 // the fixture's server.shutdownTimeoutMs

let svc: RunningService
let logDir: string
beforeEach(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'servekit-shutdown-log-'))
  svc = await startService({ config: CONFIG, workers: 2, env: { SERVEKIT_TEST_LOG_DIR: logDir } })
})
afterEach(async () => {
  await svc.stop()
  await rm(logDir, { recursive: true, force: true })
})

const loggedRequestIds = () => readLedger(logDir)

/**
 * The prediction log is the ledger: one event per prediction the service made. Nothing lost means
 * the predictions made are exactly the answers received (no prediction whose answer never arrived),
 * each made once (a request resent after a keep-alive reset had not been read the first time).
 */
function expectLedgerMatches(logged: Map<string, number>, answered: readonly Outcome[]): void {
  expect([...logged.keys()].sort()).toEqual(answered.map((o) => o.requestId).sort())
  expect([...logged.entries()].filter(([, n]) => n !== 1)).toEqual([])
}

// Half the requests wait 30 ms on I/O, so some are always in flight when a worker drains.
const body = (i: number) => JSON.stringify(i % 2 ? { model_id: 'io', features: { ms: 30 } } : { model_id: 'ok', features: { x: i % 100 } })

describe('shutdown and deploys under load', () => {
  it('SIGTERM under load: every accepted request answered, every event flushed, exit 0 within the grace period', async () => {
    const client = createClient(svc.url, { maxSockets: 64 })
    const load = openLoop({ rate: 300, durationMs: 6000, send: (i) => client.post('/infer', body(i)) })
    await new Promise((r) => setTimeout(r, 2000))
    const sentBefore = load.sent()
    const signalledAt = performance.now()
    const exited = svc.stop(SHUTDOWN_TIMEOUT_MS + 5000)
    const code = await exited
    const exitMs = performance.now() - signalledAt
    const outcomes = await load.done
    client.close()

    expect(code).toBe(0)
    expect(exitMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS)
    // Every request got a 200, or was never accepted: refused at connect time, or reset before the
    // service read a byte of it (a connection queued in the primary when the last worker stopped
    // listening, or a keep-alive connection closed idle as the request was on its way).
    const answered = outcomes.filter((o) => o.status === 200)
    const notAccepted = outcomes.filter((o) => o.status === undefined && (o.error === 'ECONNREFUSED' || o.error === 'ECONNRESET'))
    expect(tally(outcomes.filter((o) => o.status !== 200 && !notAccepted.includes(o)))).toEqual({})
    // The ledger proves the "never accepted" part, and that every event was flushed before exit.
    const logged = await loggedRequestIds()
    expectLedgerMatches(logged, answered)
    expect(answered.length).toBeGreaterThan(0)
    await report('sigterm-under-load', {
      rate: 300,
      sent: outcomes.length,
      sent_before_sigterm: sentBefore,
      answered_200: answered.length,
      not_accepted: tally(notAccepted),
      resent_after_reset: tally(outcomes.filter((o) => o.retried).map((o) => ({ ...o, status: undefined, error: o.resetOn }))),
      prediction_log_events: [...logged.values()].reduce((a, b) => a + b, 0),
      missing_events: 0,
      exit_code: code,
      exit_ms: Math.round(exitMs),
    })
  }, 60_000)

  it('SIGHUP under load: a rolling restart replaces every worker and loses nothing', async () => {
    const before = new Set(svc.logs.filter((l) => l.role === 'worker').map((l) => l.pid))
    const client = createClient(svc.url, { maxSockets: 64 })
    const load = openLoop({ rate: 300, durationMs: 60_000, send: (i) => client.post('/infer', body(i)) })
    await new Promise((r) => setTimeout(r, 1000))
    svc.proc.kill('SIGHUP')
    await svc.waitForLog((l) => l.msg === 'rolling restart finished', 60_000)
    await new Promise((r) => setTimeout(r, 1000))
    load.stop()
    const outcomes: Outcome[] = await load.done
    client.close()

    const replaced = svc.logs.filter((l) => l.msg === 'worker replaced')
    expect(replaced.map((l) => [l['reason'], l['code']])).toEqual([
      ['rolling', 0],
      ['rolling', 0],
    ])
    expect(replaced.every((l) => before.has(l['worker_pid'] as number))).toBe(true)
    // Each replacement listened before its predecessor was told to drain.
    for (const old of replaced) {
      const startedAt = svc.logs.findIndex((l) => l.msg === 'starting a replacement worker' && l['worker_pid'] === old['worker_pid'])
      const listeningAt = svc.logs.findIndex((l, i) => i > startedAt && l.msg === 'worker listening')
      const drainAt = svc.logs.findIndex((l) => l.pid === old['worker_pid'] && l.msg === 'worker draining')
      expect(startedAt).toBeGreaterThanOrEqual(0)
      expect(listeningAt).toBeGreaterThan(startedAt)
      expect(drainAt).toBeGreaterThan(listeningAt)
    }
    expect(tally(outcomes)).toEqual({ '200': outcomes.length })
    expect((await scrape(svc.url)).get('servekit_worker_restarts_total{reason="rolling"}')).toBe(2)
    const stopped = await svc.stop()
    expect(stopped).toBe(0)
    const logged = await loggedRequestIds()
    expectLedgerMatches(logged, outcomes)
    await report('rolling-restart-under-load', {
      rate: 300,
      requests: outcomes.length,
      statuses: tally(outcomes),
      resent_after_reset: tally(outcomes.filter((o) => o.retried).map((o) => ({ ...o, status: undefined, error: o.resetOn }))),
      handled_twice: 0,
      workers_replaced: replaced.length,
      latency: latencySummary(outcomes),
      prediction_log_events: [...logged.values()].reduce((a, b) => a + b, 0),
    })
  }, 120_000)
})
