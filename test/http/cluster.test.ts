import { connect } from 'node:net'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { postJson, startService } from '../helpers/start-service.js'

const workerPids = (logs: { role?: string; pid: number; msg: string }[]) => [...new Set(logs.filter((l) => l.role === 'worker' && l.msg.startsWith('loaded ')).map((l) => l.pid))]

describe('cluster mode', () => {
  it('replaces a worker killed with SIGKILL and keeps serving', async () => {
    const svc = await startService({ workers: 2 })
    try {
      const [victim, survivor] = workerPids(svc.logs)
      expect(victim).toBeTypeOf('number')
      expect(survivor).toBeTypeOf('number')
      process.kill(victim!, 'SIGKILL')
      await svc.waitForLog((l) => l.msg === 'worker died; restarting it' && l['worker_pid'] === victim)
      // The replacement logs its loads under a new pid.
      const replacement = await svc.waitForLog((l) => l.role === 'worker' && l.msg.startsWith('loaded sum') && l.pid !== victim && l.pid !== survivor)
      expect(replacement.pid).not.toBe(victim)
      // Serving continues: every request succeeds (the killed worker had no request in flight).
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => postJson(`${svc.url}/infer`, { model_id: 'sum', features: { i } })))
      expect(results.map((r) => r.status)).toEqual(Array(40).fill(200))
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })

  it('on SIGTERM finishes every in-flight request, then exits 0', async () => {
    const svc = await startService({ workers: 2 })
    const n = 8
    const pending = Array.from({ length: n }, (_, i) => postJson(`${svc.url}/infer`, { model_id: 'slow', features: { ms: 800, tag: `r${i}` } }))
    // Wait until every request has reached a model, then ask the service to stop.
    await svc.waitForStderr((l) => l.startsWith('slow:start r'), n)
    const exit = svc.stop()
    const results = await Promise.all(pending)
    expect(results.map((r) => r.status)).toEqual(Array(n).fill(200))
    expect(results.map((r) => r.body.output.tag).sort()).toEqual(Array.from({ length: n }, (_, i) => `r${i}`).sort())
    expect(await exit).toBe(0)
    expect(svc.logs.some((l) => l.msg === 'servekit stopped' && l['code'] === 0)).toBe(true)
  })

  it('stops accepting new connections once draining', async () => {
    const svc = await startService({ workers: 1 })
    const inflight = postJson(`${svc.url}/infer`, { model_id: 'slow', features: { ms: 1500, tag: 'held' } })
    await svc.waitForStderr((l) => l === 'slow:start held')
    const exit = svc.stop()
    await svc.waitForLog((l) => l.msg === 'worker draining')
    // A fresh connection is refused (or answered 503) while the held request still completes.
    const late = await fetch(`${svc.url}/health`, { headers: { connection: 'close' } }).then((r) => r.status, () => 'refused')
    expect([503, 'refused']).toContain(late)
    expect((await inflight).status).toBe(200)
    expect(await exit).toBe(0)
  })

  it('does not wait on open connections that never sent a request', async () => {
    const svc = await startService({ workers: 1 })
    // A spare connection, as HTTP clients keep them: connected, silent.
    const socket = connect(svc.port, '127.0.0.1')
    await once(socket, 'connect')
    const closed = once(socket, 'close')
    const started = Date.now()
    // Without the drainer, shutdown would wait for the server's headers timeout (60 s) and stop() would SIGKILL.
    expect(await svc.stop(20_000)).toBe(0)
    await closed
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})
