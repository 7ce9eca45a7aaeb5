import { networkInterfaces } from 'node:os'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redactPaths } from '../../src/server/error-handler.js'
import { SECURITY_HEADERS } from '../../src/server/security-headers.js'
import { startService, type RunningService } from '../helpers/start-service.js'
import { report } from './load-client.js'
import { httpRequest, rawRequest } from './raw-http.js'

// The admin API's token and port, security headers on every response, and what error responses
// reveal: no stack traces, no file paths (outside NODE_ENV=development).

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))
const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/faulty/', import.meta.url))
const TOKEN = 'security-test-token-abcdefghijklmnop'

let svc: RunningService
let admin: string
beforeAll(async () => {
  // The admin API on its own port (0: any free one), at its default host.
  svc = await startService({ config: CONFIG, workers: 2, env: { SERVEKIT_ADMIN_TOKEN: TOKEN, SERVEKIT_TEST_ADMIN_PORT: '0' } })
  admin = (await svc.waitForLog((l) => l.msg.startsWith('servekit listening')))['admin_address'] as string
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers })

describe('the admin API', () => {
  it('listens on its own port, bound to 127.0.0.1 by default', () => {
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(admin).not.toBe(svc.url)
  })

  it('is not reachable on another interface of this machine', async () => {
    const port = Number(new URL(admin).port)
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)
    if (external === undefined) return // a machine with loopback only has nothing else to try
    const outcome = await new Promise<string>((resolve) => {
      const s = net.connect({ host: external.address, port })
      s.on('connect', () => (s.destroy(), resolve('connected')))
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
    })
    expect(outcome).toBe('ECONNREFUSED')
  })

  it('is absent from the data-plane port when it has its own', async () => {
    const res = await get(`${svc.url}/admin/models`, { authorization: `Bearer ${TOKEN}` })
    expect(res.status).toBe(404)
    expect(((await res.json()) as any).error.code).toBe('not_found')
  })

  it('serves no inference on the admin port', async () => {
    const res = await fetch(`${admin}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model_id: 'ok', features: { x: 1 } }) })
    expect(res.status).toBe(404)
  })

  it.each([
    ['no Authorization header', undefined],
    ['a wrong token of the same length', `Bearer ${'x'.repeat(TOKEN.length)}`],
    ['a wrong token of another length', 'Bearer short'],
    ['the token with one character changed', `Bearer ${TOKEN.slice(0, -1)}Q`],
    ['the token as a Basic credential', `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`],
    ['an empty bearer', 'Bearer '],
  ])('answers 401 unauthorized to %s and changes nothing', async (_name, authorization) => {
    const res = await fetch(`${admin}/admin/reload`, { method: 'POST', headers: authorization ? { authorization } : {} })
    expect(res.status).toBe(401)
    expect(((await res.json()) as any).error.code).toBe('unauthorized')
  })

  it('answers 200 to the right token', async () => {
    const res = await get(`${admin}/admin/models`, { authorization: `Bearer ${TOKEN}` })
    expect(res.status).toBe(200)
  })
})

describe('security headers', () => {
  const responses: Array<[string, () => Promise<{ status: number | undefined; headers: Record<string, string> }>]> = [
    ['200 /infer', () => raw(svc.port, httpRequest('POST', '/infer', JSON.stringify({ model_id: 'ok', features: { x: 1 } })))],
    ['400 invalid_json', () => raw(svc.port, httpRequest('POST', '/infer', '{'))],
    ['404 unknown path', () => raw(svc.port, httpRequest('GET', '/nope'))],
    ['405 GET /infer', () => raw(svc.port, httpRequest('GET', '/infer'))],
    ['413 over the body limit', () => raw(svc.port, httpRequest('POST', '/infer', JSON.stringify({ model_id: 'ok', features: 'x'.repeat(70_000) })))],
    ['415 text/plain', () => raw(svc.port, httpRequest('POST', '/infer', 'x', { 'content-type': 'text/plain' }))],
    ['500 prediction_failed', () => raw(svc.port, httpRequest('POST', '/infer', JSON.stringify({ model_id: 'throws', features: {} })))],
    ['503 not_ready', () => raw(svc.port, httpRequest('POST', '/infer', JSON.stringify({ model_id: 'load_throws', features: {} })))],
    ['504 prediction_timeout', () => raw(svc.port, httpRequest('POST', '/infer', JSON.stringify({ model_id: 'hang', features: {} })))],
    ['400 malformed HTTP (answered below the router)', () => raw(svc.port, Buffer.from('HELLO\r\n\r\n'))],
    ['431 header flood', () => raw(svc.port, httpRequest('GET', '/health', undefined, { 'x-big': 'b'.repeat(20_000) }))],
    ['400 undecodable URL', () => raw(svc.port, httpRequest('GET', '/models%zz'))],
    ['GET /health', () => raw(svc.port, httpRequest('GET', '/health'))],
    ['GET /ready', () => raw(svc.port, httpRequest('GET', '/ready'))],
    ['GET /models', () => raw(svc.port, httpRequest('GET', '/models'))],
    ['GET /metrics', () => raw(svc.port, httpRequest('GET', '/metrics'))],
    ['admin port 401', () => raw(Number(new URL(admin).port), httpRequest('GET', '/admin/models'))],
    ['admin port 200', () => raw(Number(new URL(admin).port), httpRequest('GET', '/admin/models', undefined, { authorization: `Bearer ${TOKEN}` }))],
  ]
  it.each(responses)('%s carries every security header and no x-powered-by', async (_name, send) => {
    const res = await send()
    expect(res.status).toBeDefined()
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers[name]).toBe(value)
    expect(res.headers['x-powered-by']).toBeUndefined()
    expect(res.headers['server']).toBeUndefined()
  })

  it('reports what it checked', async () => {
    await report('security-headers', { responses_checked: responses.length, headers: SECURITY_HEADERS })
  })
})

describe('what errors reveal', () => {
  it('replaces absolute paths with their last segment and leaves other text alone', () => {
    expect(redactPaths("ENOENT: no such file or directory, open '/srv/app/models/churn/3/weights.json'")).toBe("ENOENT: no such file or directory, open '…/weights.json'")
    expect(redactPaths('cannot import model class /srv/app/src/churn.ts: boom')).toBe('cannot import model class …/churn.ts: boom')
    expect(redactPaths('file:///srv/app/src/churn.ts failed')).toBe('…/churn.ts failed')
    expect(redactPaths('C:\\srv\\app\\w.json missing')).toBe('…/w.json missing')
    for (const kept of ['s3://bucket/prefix/key', 'http://host:8080/a/b', 'ratio 1/2/3', 'expected churn/<version>/', 'model "../x" not found']) expect(redactPaths(kept)).toBe(kept)
  })

  it('NODE_ENV=development shows the whole path to the developer', async () => {
    const dev = await startService({ config: CONFIG, workers: 1, env: { NODE_ENV: 'development' } })
    try {
      const res = await rawRequest(dev.port, httpRequest('POST', '/infer', JSON.stringify({ model_id: 'leaky_error', features: {} })))
      expect(res.status).toBe(500)
      expect(res.json.error.message).toContain(`${FIXTURE_DIR}src/weights/lookup.json`)
    } finally {
      expect(await dev.stop()).toBe(0)
    }
  })
})

async function raw(port: number, request: Buffer): Promise<{ status: number | undefined; headers: Record<string, string> }> {
  const res = await rawRequest(port, request, { timeoutMs: 5000 })
  return { status: res.status, headers: res.headers }
}
