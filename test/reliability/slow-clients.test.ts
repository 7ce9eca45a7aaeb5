import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type RunningService } from '../helpers/start-service.js'
import { report } from './load-client.js'
import { httpRequest, rawRequest } from './raw-http.js'

// Slowloris-style clients: headers or a body sent a byte at a time, or nothing at all. The fixture
// sets server.requestTimeoutMs to 2 s; each such connection gets 408 and is closed, and normal
// requests keep being answered meanwhile.

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))
const REQUEST_TIMEOUT_MS = 2000

let svc: RunningService
beforeAll(async () => {
  svc = await startService({ config: CONFIG, workers: 2, env: { SERVEKIT_TEST_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } })
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

const slowHeaders = (): string[] => ['POST /infer HTTP/1.1\r\nhost: x\r\n', ...Array.from({ length: 60 }, (_, i) => `x-slow-${i}: 1\r\n`)]
const slowBody = (): string[] => ['POST /infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{', ...Array.from({ length: 60 }, () => ' ')]
const NORMAL = httpRequest('POST', '/infer', JSON.stringify({ model_id: 'ok', features: { x: 1 } }))
// Past the request timeout, plus Node's once-a-second deadline check, plus slack for a busy machine.
const CLIENT_GIVES_UP_MS = REQUEST_TIMEOUT_MS + 8_000

describe('slow clients', () => {
  it.each([
    ['headers sent a line every 250 ms', slowHeaders],
    ['a body sent a byte every 250 ms', slowBody],
    ['a connection that sends nothing', () => ['']],
  ])('%s: 408 invalid_request and the connection closed by the request timeout', async (_name, parts) => {
    const res = await rawRequest(svc.port, parts(), { gapMs: 250, timeoutMs: CLIENT_GIVES_UP_MS })
    expect(res.closedByServer).toBe(true)
    expect(res.status).toBe(408)
    expect(res.json.error.code).toBe('invalid_request')
    expect((await rawRequest(svc.port, NORMAL)).status).toBe(200)
  })

  it('200 slow connections at once neither block normal requests nor outlive the timeout', async () => {
    const slow = Array.from({ length: 200 }, (_, i) => rawRequest(svc.port, i % 2 ? slowHeaders() : slowBody(), { gapMs: 250, timeoutMs: CLIENT_GIVES_UP_MS }))
    // While they trickle, normal requests are answered.
    const normal = []
    for (let i = 0; i < 20; i++) normal.push((await rawRequest(svc.port, NORMAL)).status)
    expect(normal).toEqual(Array(20).fill(200))
    const results = await Promise.all(slow)
    expect(results.filter((r) => !r.closedByServer)).toEqual([])
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([408]))
    await report('slow-clients', { slow_connections: 200, closed_with_408: results.length, normal_requests_meanwhile: normal.length, request_timeout_ms: REQUEST_TIMEOUT_MS })
  })
})
