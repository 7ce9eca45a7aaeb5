import { describe, expect, it } from 'vitest'
import { startPrometheus } from '../helpers/prometheus-server.js'
import { postJson, startService } from '../helpers/start-service.js'

describe('a real Prometheus scraping /metrics', () => {
  it('sees the servekit series of a two-worker service, summed over the workers', async () => {
    const svc = await startService({ workers: 2 })
    const prom = await startPrometheus(`127.0.0.1:${svc.port}`)
    try {
      // Fresh connections, so both workers answer some of the 20 requests.
      for (let i = 0; i < 20; i++) expect((await postJson(`${svc.url}/infer`, { model_id: 'sum', features: { i } }, { connection: 'close' })).status).toBe(200)
      const deadline = Date.now() + 30_000
      let requests: Awaited<ReturnType<typeof prom.query>> = []
      while (Date.now() < deadline) {
        requests = await prom.query('servekit_requests_total{model="sum",code="200"}')
        if (requests.length > 0 && Number(requests[0]!.value[1]) === 20) break
        await new Promise((r) => setTimeout(r, 250))
      }
      expect(requests).toHaveLength(1)
      expect(requests[0]!.metric).toMatchObject({ job: 'servekit', model: 'sum', version: '2', code: '200' })
      expect(Number(requests[0]!.value[1])).toBe(20)
      expect(await prom.query('up{job="servekit"}')).toMatchObject([{ value: [expect.any(Number), '1'] }])
      const loaded = await prom.query('servekit_model_version_loaded{role="serving"}')
      expect(loaded.map((s) => s.metric['model']).sort()).toEqual(['batchy', 'echo', 'slow', 'sum', 'throws'])
      expect((await prom.query('servekit_request_duration_seconds_count{model="sum"}'))[0]?.value[1]).toBe('20')
    } finally {
      await prom.close()
      expect(await svc.stop()).toBe(0)
    }
  })
})
