import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scrape } from '../helpers/metrics.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

let svc: RunningService
beforeAll(async () => {
  svc = await startService({ workers: 2 })
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

describe('GET /metrics', () => {
  it('counts requests exactly by model, version and status, summed over both workers', async () => {
    // Known traffic; keep-alive off so connections (and requests) spread over both workers.
    const send = (body: unknown) => postJson(`${svc.url}/infer`, body, { connection: 'close' })
    for (let i = 0; i < 7; i++) expect((await send({ model_id: 'sum', features: { a: i } })).status).toBe(200)
    for (let i = 0; i < 3; i++) expect((await send({ model_id: 'throws', features: {} })).status).toBe(500)
    expect((await send({ model_id: 'no-such-model', features: {} })).status).toBe(404)
    expect((await send({ model_id: 'slow', features: { ms: 'x' } })).status).toBe(400)
    expect((await postJson(`${svc.url}/infer/batch`, { model_id: 'batchy', instances: [{ x: 1 }, { x: 2 }, { x: 3 }] })).status).toBe(200)

    const m = await scrape(svc.url)
    expect(m.get('servekit_requests_total{model="sum",version="2",code="200"}')).toBe(7)
    // A version's failures count under that version (its predict threw; its schema refused the features).
    expect(m.get('servekit_requests_total{model="throws",version="1",code="500"}')).toBe(3)
    expect(m.get('servekit_requests_total{model="slow",version="1",code="400"}')).toBe(1)
    expect(m.get('servekit_requests_total{model="throws",version="",code="500"}')).toBeUndefined()
    expect(m.get('servekit_requests_total{model="slow",version="",code="400"}')).toBeUndefined()
    // No version was reached: the version label stays empty.
    expect(m.get('servekit_requests_total{model="_unknown",version="",code="404"}')).toBe(1)
    expect(m.get('servekit_requests_total{model="batchy",version="1",code="200"}')).toBe(1)
    expect(m.get('servekit_request_duration_seconds_count{model="sum"}')).toBe(7)
    expect(m.get('servekit_predict_duration_seconds_count{model="sum",version="2"}')).toBe(7)
    // throws reached its predict three times; the schema failure on slow counts as a predict too.
    expect(m.get('servekit_predict_duration_seconds_count{model="throws",version="1"}')).toBe(3)
    expect(m.get('servekit_batch_size_sum{model="batchy"}')).toBe(3)
    expect(m.get('servekit_requests_in_flight')).toBe(0)
  })

  it('counts a request whose client gave up before the answer as code 499, once, with an access-log line', async () => {
    const before = await scrape(svc.url)
    const key = 'servekit_requests_total{model="slow",version="1",code="499"}'
    const given = before.get(key) ?? 0
    const gaveUp = postJson(`${svc.url}/infer`, { model_id: 'slow', features: { ms: 600, tag: 'gave-up' } }, { 'x-request-id': 'gave-up-1' }, AbortSignal.timeout(150))
    await expect(gaveUp).rejects.toThrow()
    const line = await svc.waitForLog((l) => l['log'] === 'access' && l['request_id'] === 'gave-up-1')
    expect(line).toMatchObject({ model_id: 'slow', model_version: '1', status: 499 })
    expect(line['latency_ms']).toBeGreaterThanOrEqual(100)
    // Once the model answers (into a closed connection), nothing is counted a second time.
    await new Promise((r) => setTimeout(r, 900))
    const m = await scrape(svc.url)
    expect(m.get(key)).toBe(given + 1)
    expect(m.get('servekit_requests_total{model="slow",version="1",code="200"}') ?? 0).toBe(before.get('servekit_requests_total{model="slow",version="1",code="200"}') ?? 0)
    expect(m.get('servekit_requests_in_flight')).toBe(0)
    expect(svc.logs.filter((l) => l['request_id'] === 'gave-up-1' && l['log'] === 'access')).toHaveLength(1)
  })

  it('counts a batch request whose client gave up as code 499 too', async () => {
    const key = 'servekit_requests_total{model="slow",version="1",code="499"}'
    const given = (await scrape(svc.url)).get(key) ?? 0
    const body = { model_id: 'slow', instances: [{ ms: 600, tag: 'gave-up-batch' }] }
    await expect(postJson(`${svc.url}/infer/batch`, body, { 'x-request-id': 'gave-up-2' }, AbortSignal.timeout(150))).rejects.toThrow()
    const line = await svc.waitForLog((l) => l['log'] === 'access' && l['request_id'] === 'gave-up-2')
    expect(line).toMatchObject({ model_id: 'slow', model_version: '1', status: 499, path: '/infer/batch' })
    await new Promise((r) => setTimeout(r, 900))
    expect((await scrape(svc.url)).get(key)).toBe(given + 1)
    expect(svc.logs.filter((l) => l['request_id'] === 'gave-up-2' && l['log'] === 'access')).toHaveLength(1)
  })

  it('shows loaded versions, self-tests and load failures once per service, not per worker', async () => {
    const m = await scrape(svc.url)
    expect(m.get('servekit_model_version_loaded{model="sum",version="2",role="serving"}')).toBe(1)
    expect(m.get('servekit_self_test_passed{model="echo",version="1"}')).toBe(1)
    expect(m.get('servekit_self_test_passed{model="sum",version="2"}')).toBe(-1)
    expect(m.get('servekit_self_test_cases{model="echo",version="1",outcome="passed"}')).toBe(1)
    // Each worker failed to load "broken" once: a counter, summed.
    expect(m.get('servekit_model_load_failures_total{model="broken",reason="load"}')).toBe(2)
    expect(m.get('servekit_model_load_duration_seconds_count{model="echo"}')).toBe(2)
  })

  it('includes process metrics', async () => {
    const m = await scrape(svc.url)
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(0)
    expect([...m.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_p99_seconds'))).toBe(true)
  })
})
