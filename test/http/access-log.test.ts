import { describe, expect, it } from 'vitest'
import { postJson, startService } from '../helpers/start-service.js'

describe('access log', () => {
  it('writes one JSON line per inference request with request id, model, version, status and latency', async () => {
    const svc = await startService({ workers: 1 })
    try {
      await postJson(`${svc.url}/infer`, { model_id: 'sum', features: { a: 1 } }, { 'x-request-id': 'access-1' })
      await postJson(`${svc.url}/infer`, { model_id: 'throws', features: {} }, { 'x-request-id': 'access-2' })
      const ok = await svc.waitForLog((l) => l['log'] === 'access' && l['request_id'] === 'access-1')
      expect(ok).toMatchObject({ model_id: 'sum', model_version: '2', status: 200, path: '/infer', level: 30 })
      expect(ok['latency_ms']).toBeTypeOf('number')
      const failed = await svc.waitForLog((l) => l['log'] === 'access' && l['request_id'] === 'access-2')
      expect(failed).toMatchObject({ model_id: 'throws', model_version: '1', status: 500 })
      // Health checks and scrapes are not inference requests: no access lines for them.
      await fetch(`${svc.url}/health`)
      await postJson(`${svc.url}/infer`, { model_id: 'sum', features: {} }, { 'x-request-id': 'access-3' })
      await svc.waitForLog((l) => l['request_id'] === 'access-3')
      expect(svc.logs.filter((l) => l['log'] === 'access').map((l) => l['request_id'])).toEqual(['access-1', 'access-2', 'access-3'])
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })

  it('keeps every line whole and parseable from two workers under load, escapes odd ids, and flushes on SIGTERM', async () => {
    const svc = await startService({ workers: 2 })
    const odd = ['naïve "model" ✓', 'back\\slash', 'tab\there', '日本語のモデル']
    const total = 2000
    let sent = 0
    try {
      // 16 clients at once, so both workers write chunks to the same stdout pipe at the same time.
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (sent < total) {
            const i = sent++
            const model = i % 10 === 0 ? odd[(i / 10) % odd.length]! : 'sum'
            const r = await postJson(`${svc.url}/infer`, { model_id: model, features: { a: i } }, { 'x-request-id': `load-${i}` })
            expect(r.status).toBe(model === 'sum' ? 200 : 404)
          }
        }),
      )
    } finally {
      expect(await svc.stop()).toBe(0)
    }
    // A torn line would not parse and would land in stderr's list; none may.
    expect(svc.stderr.filter((l) => l.includes('"log":"access"'))).toEqual([])
    const lines = svc.logs.filter((l) => l['log'] === 'access' && String(l['request_id']).startsWith('load-'))
    expect(lines).toHaveLength(total)
    expect(new Set(lines.map((l) => l['request_id'])).size).toBe(total)
    for (const l of lines) {
      const i = Number(String(l['request_id']).slice('load-'.length))
      const model = i % 10 === 0 ? odd[(i / 10) % odd.length] : 'sum'
      expect(l).toMatchObject({ level: 30, model_id: model, status: model === 'sum' ? 200 : 404, model_version: model === 'sum' ? '2' : null, path: '/infer' })
      expect(new Date(String(l['time'])).toISOString()).toBe(l['time'])
    }
  })
})
