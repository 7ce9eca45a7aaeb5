import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

// One real cluster (2 workers) on 127.0.0.1 for every data-plane check in this file.
let svc: RunningService
beforeAll(async () => {
  svc = await startService({ workers: 2 })
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

const infer = (body: unknown, headers?: Record<string, string>) => postJson(`${svc.url}/infer`, body, headers)

describe('POST /infer', () => {
  it('returns the output with model id, version and a generated request id', async () => {
    const res = await infer({ model_id: 'sum', features: { a: 1, b: 2.5 } })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ output: 1003.5, model_id: 'sum', model_version: '2', request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) })
    expect(res.headers.get('x-request-id')).toBe(res.body.request_id)
  })

  it('serves the highest version when the config says latest', async () => {
    // sum has versions 1 (offset 0) and 2 (offset 1000).
    const res = await infer({ model_id: 'sum', features: { a: 1 } })
    expect(res.body.output).toBe(1001)
  })

  it('echoes the x-request-id header', async () => {
    const res = await infer({ model_id: 'sum', features: {} }, { 'x-request-id': 'abc-123' })
    expect(res.body.request_id).toBe('abc-123')
    expect(res.headers.get('x-request-id')).toBe('abc-123')
  })

  it('prefers the body request_id over the header', async () => {
    const res = await infer({ model_id: 'sum', features: {}, request_id: 'from-body' }, { 'x-request-id': 'from-header' })
    expect(res.body.request_id).toBe('from-body')
  })

  it('replaces a header request id that is not safe to echo', async () => {
    const res = await infer({ model_id: 'sum', features: {} }, { 'x-request-id': 'a b' })
    expect(res.body.request_id).not.toBe('a b')
    expect(res.body.request_id).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('passes request parameters to predict', async () => {
    const res = await infer({ model_id: 'echo', features: [1, null, 'x'], parameters: { output_margin: true } })
    expect(res.body.output).toEqual({ features: [1, null, 'x'], parameters: { output_margin: true } })
  })

  it('returns 400 invalid_json for a malformed body', async () => {
    const res = await infer('{"model_id": "sum", ')
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('invalid_json')
  })

  it('returns 400 invalid_json for an empty JSON body', async () => {
    const res = await infer('')
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('invalid_json')
  })

  it('returns 400 invalid_request naming a missing envelope field', async () => {
    const res = await infer({ model_id: 'sum' })
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'body.features' })
    expect(res.body.error.message).toContain('body.features')
  })

  it('returns 400 invalid_request for an ill-typed model_id instead of coercing it', async () => {
    const res = await infer({ model_id: 5, features: {} })
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'body.model_id' })
  })

  it('returns 400 invalid_request naming an unknown envelope field', async () => {
    const res = await infer({ model_id: 'sum', feature: {} , features: {} })
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'body.feature' })
  })

  it("returns 400 invalid_request naming the feature that fails the model's schema", async () => {
    const res = await infer({ model_id: 'slow', features: { ms: 'soon' } })
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'features.ms' })
    expect(res.body.error.message).toContain('features.ms')
  })

  it('returns 404 model_not_found listing the known models', async () => {
    const res = await infer({ model_id: 'nope', features: {} })
    expect(res.status).toBe(404)
    expect(res.body.error.code).toBe('model_not_found')
    expect(res.body.error.message).toContain('known: batchy, broken, echo, slow, sum, throws')
  })

  it('returns 413 payload_too_large over the body limit', async () => {
    const res = await infer({ model_id: 'echo', features: 'x'.repeat(70_000) })
    expect(res.status).toBe(413)
    expect(res.body.error.code).toBe('payload_too_large')
  })

  it('returns 415 unsupported_media_type for a non-JSON body', async () => {
    const res = await fetch(`${svc.url}/infer`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })
    expect(res.status).toBe(415)
    expect(((await res.json()) as any).error.code).toBe('unsupported_media_type')
  })

  it('returns 500 prediction_failed with the model message, then keeps serving', async () => {
    const res = await infer({ model_id: 'throws', features: {} })
    expect(res.status).toBe(500)
    expect(res.body.error.code).toBe('prediction_failed')
    expect(res.body.error.message).toContain('model exploded on purpose')
    expect(res.body.error.message).not.toMatch(/at .*\.ts:\d+/) // no stack
    const after = await infer({ model_id: 'sum', features: { a: 1 } })
    expect(after.status).toBe(200)
  })

  it('returns 503 not_ready with the load error for a model whose load threw', async () => {
    const res = await infer({ model_id: 'broken', features: {} })
    expect(res.status).toBe(503)
    expect(res.body.error.code).toBe('not_ready')
    expect(res.body.error.message).toContain('weights are corrupt on purpose')
  })
})

describe('routing errors', () => {
  it('returns 405 method_not_allowed with an Allow header for GET /infer', async () => {
    const res = await fetch(`${svc.url}/infer`)
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST')
    expect(((await res.json()) as any).error.code).toBe('method_not_allowed')
  })

  it('returns 404 not_found as JSON for an unknown path', async () => {
    const res = await fetch(`${svc.url}/predict`)
    expect(res.status).toBe(404)
    expect((await res.json()) as any).toEqual({ error: { code: 'not_found', message: 'no route for GET /predict' } })
  })
})

describe('POST /infer/batch', () => {
  it('returns one result per instance in order; a bad item fails alone', async () => {
    const res = await postJson(`${svc.url}/infer/batch`, { model_id: 'slow', instances: [{ ms: 0, tag: 'a' }, { ms: 'x' }, { ms: 1, tag: 'c' }] })
    expect(res.status).toBe(200)
    expect(res.body.model_version).toBe('1')
    expect(res.body.results).toHaveLength(3)
    expect(res.body.results[0]).toEqual({ output: { slept_ms: 0, tag: 'a' } })
    expect(res.body.results[1].error).toMatchObject({ code: 'invalid_request', field: 'features.ms' })
    expect(res.body.results[2]).toEqual({ output: { slept_ms: 1, tag: 'c' } })
  })

  it('uses predictBatch for the valid items and keeps invalid ones out of it', async () => {
    const res = await postJson(`${svc.url}/infer/batch`, { model_id: 'batchy', instances: [{ x: 1 }, { x: 'no' }, { x: 3 }] })
    expect(res.body.results).toEqual([{ output: 2 }, { error: expect.objectContaining({ code: 'invalid_request' }) }, { output: 6 }])
  })

  it('fails every valid item when predictBatch throws, with prediction_failed', async () => {
    const res = await postJson(`${svc.url}/infer/batch`, { model_id: 'batchy', instances: [{ x: 1 }, { x: 13 }] })
    expect(res.status).toBe(200)
    expect(res.body.results.map((r: any) => r.error.code)).toEqual(['prediction_failed', 'prediction_failed'])
  })

  it('rejects more instances than server.maxBatchItems with invalid_request', async () => {
    const res = await postJson(`${svc.url}/infer/batch`, { model_id: 'sum', instances: Array.from({ length: 51 }, () => ({})) })
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'body.instances' })
  })

  it('returns 404 model_not_found for the whole batch', async () => {
    const res = await postJson(`${svc.url}/infer/batch`, { model_id: 'nope', instances: [{}] })
    expect(res.status).toBe(404)
    expect(res.body.error.code).toBe('model_not_found')
  })
})

describe('health, readiness and models', () => {
  it('GET /health answers 200', async () => {
    const res = await fetch(`${svc.url}/health`)
    expect(res.status).toBe(200)
    expect((await res.json()) as any).toEqual({ status: 'ok' })
  })

  it('GET /ready answers 503 while a configured model failed to load, naming it', async () => {
    const res = await fetch(`${svc.url}/ready`)
    expect(res.status).toBe(503)
    const body = (await res.json()) as any
    expect(body.status).toBe('not_ready')
    expect(body.models.broken).toBe('failed')
    expect(body.models.sum).toBe('ready')
  })

  it('GET /models lists each model with its version, status, load time and self-test', async () => {
    const res = await fetch(`${svc.url}/models`)
    const { models } = (await res.json()) as any
    const byId = Object.fromEntries(models.map((m: any) => [m.model_id, m]))
    expect(byId.sum).toMatchObject({ status: 'ready', default_version: '2', error: null })
    expect(byId.sum.versions[0]).toMatchObject({ version: '2', status: 'serving', load_ms: expect.any(Number), loaded_at: expect.any(String) })
    expect(byId.echo.versions[0].self_test).toMatchObject({ status: 'passed', cases: 1, failed: 0 })
    expect(byId.broken).toMatchObject({ status: 'failed', default_version: null, versions: [{ version: '1', status: 'failed', error: 'broken@1: load threw: weights are corrupt on purpose' }] })
    expect(byId.broken.error).toContain('weights are corrupt on purpose')
  })
})
