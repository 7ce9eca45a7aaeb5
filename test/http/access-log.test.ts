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
      expect(failed).toMatchObject({ model_id: 'throws', model_version: null, status: 500 })
      // Health checks and scrapes are not inference requests: no access lines for them.
      await fetch(`${svc.url}/health`)
      await postJson(`${svc.url}/infer`, { model_id: 'sum', features: {} }, { 'x-request-id': 'access-3' })
      await svc.waitForLog((l) => l['request_id'] === 'access-3')
      expect(svc.logs.filter((l) => l['log'] === 'access').map((l) => l['request_id'])).toEqual(['access-1', 'access-2', 'access-3'])
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })
})
