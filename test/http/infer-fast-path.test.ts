import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type RunningService } from '../helpers/start-service.js'
import { rawRequest, type RawResponse } from '../reliability/raw-http.js'

// `POST /infer` has two ways through the server (src/server/infer-fast-path.ts): the node:http fast
// path for a JSON body of a declared length, and Fastify's route for everything else. Every case
// here is sent both ways, once with `content-length` (the fast path) and once as a chunked body
// (Fastify's route), and must get the same answer: status, body and headers. Which way answered is
// visible in the header order: the fast path writes content-type first, Fastify its security
// headers (an onRequest hook) first.

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))

let svc: RunningService
beforeAll(async () => {
  svc = await startService({ config: CONFIG, workers: 1 })
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

type Framing = 'length' | 'chunked'

/** One POST /infer with `body` (and extra headers), as raw bytes, framed by content-length or as one chunk. */
function send(body: string | Buffer, framing: Framing, headers: Record<string, string> = {}): Promise<RawResponse> {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
  const all: Record<string, string> = { host: '127.0.0.1', connection: 'close', 'content-type': 'application/json', ...headers }
  if (framing === 'length') all['content-length'] = String(payload.length)
  else all['transfer-encoding'] = 'chunked'
  const head = ['POST /infer HTTP/1.1', ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n'
  const chunk = payload.length === 0 ? [] : [Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n')]
  const framed = framing === 'length' ? payload : Buffer.concat([...chunk, Buffer.from('0\r\n\r\n')])
  return rawRequest(svc.port, [Buffer.concat([Buffer.from(head, 'latin1'), framed])])
}

/** The response's header names in the order they were sent. */
const headerOrder = (res: RawResponse): string[] =>
  res.raw
    .slice(0, res.raw.indexOf('\r\n\r\n'))
    .split('\r\n')
    .slice(1)
    .map((line) => line.slice(0, line.indexOf(':')).toLowerCase())

/** What must be equal both ways: a generated request id (a fresh UUID each time) is replaced by a marker. */
function comparable(res: RawResponse): { status: number | undefined; headers: Record<string, string>; body: string } {
  const { date: _date, ...headers } = res.headers
  const id = headers['x-request-id']
  if (id !== undefined && UUID.test(id)) {
    headers['x-request-id'] = '<uuid>'
    return { status: res.status, headers, body: res.body.replaceAll(id, '<uuid>') }
  }
  return { status: res.status, headers, body: res.body }
}

const obj = (v: unknown): string => JSON.stringify(v)

interface Case {
  name: string
  body: string | Buffer
  headers?: Record<string, string>
  status: number
  /** False when even the content-length request is one the fast path leaves to Fastify. */
  fast?: boolean
}

const cases: Case[] = [
  { name: 'a prediction', body: obj({ model_id: 'ok', features: { x: 2, tag: 'é€😀' } }), status: 200 },
  { name: 'request id from the body', body: obj({ model_id: 'ok', features: { x: 1 }, request_id: 'req-1' }), status: 200 },
  { name: 'request id from the header', body: obj({ model_id: 'ok', features: { x: 1 } }), headers: { 'x-request-id': 'hdr-1' }, status: 200 },
  { name: 'a malformed x-request-id is replaced', body: obj({ model_id: 'ok', features: { x: 1 } }), headers: { 'x-request-id': 'a b' }, status: 200 },
  { name: 'charset=utf-8', body: obj({ model_id: 'ok', features: { x: 3 } }), headers: { 'content-type': 'application/json; charset=utf-8' }, status: 200 },
  { name: 'a byte-order mark', body: '\ufeff' + obj({ model_id: 'ok', features: { x: 3 } }), status: 200 },
  { name: 'model_version and parameters', body: obj({ model_id: 'ok', model_version: '1', features: { x: 1 }, parameters: { a: 1 } }), status: 200 },
  { name: 'experiment_key', body: obj({ model_id: 'ok', features: { x: 1 }, experiment_key: 'user-7' }), status: 200 },
  { name: 'an asynchronous model', body: obj({ model_id: 'work', features: { ms: 5 } }), status: 200 },
  { name: 'invalid JSON', body: '{', status: 400 },
  { name: 'whitespace only', body: '   ', status: 400 },
  // Bytes that are not UTF-8 are read as U+FFFD, as Fastify's parser reads them.
  { name: 'invalid UTF-8 in a string', body: Buffer.concat([Buffer.from('{"model_id":"ok","features":{"x":1,"tag":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), status: 200 },
  { name: '__proto__', body: '{"model_id":"ok","features":{"x":1},"__proto__":{"polluted":true}}', status: 400 },
  { name: 'constructor.prototype', body: '{"model_id":"ok","features":{"x":1,"constructor":{"prototype":{"polluted":true}}}}', status: 400 },
  { name: 'null', body: 'null', status: 400 },
  { name: 'an array', body: '[]', status: 400 },
  { name: 'a number', body: '123', status: 400 },
  { name: 'missing model_id', body: obj({ features: { x: 1 } }), status: 400 },
  { name: 'missing features', body: obj({ model_id: 'ok' }), status: 400 },
  { name: 'model_id of the wrong type', body: obj({ model_id: 5, features: {} }), status: 400 },
  { name: 'model_id too long', body: obj({ model_id: 'm'.repeat(257), features: {} }), status: 400 },
  { name: 'an empty model_id', body: obj({ model_id: '', features: {} }), status: 400 },
  { name: 'an unknown field', body: obj({ model_id: 'ok', features: { x: 1 }, feature: {} }), status: 400 },
  { name: 'parameters not an object', body: obj({ model_id: 'ok', features: { x: 1 }, parameters: [1] }), status: 400 },
  { name: 'features the model refuses', body: obj({ model_id: 'ok', features: { x: 'one' } }), status: 400 },
  { name: 'an unknown model', body: obj({ model_id: 'nope', features: {} }), status: 404 },
  { name: 'an unknown version', body: obj({ model_id: 'ok', model_version: '9', features: { x: 1 } }), status: 404 },
  { name: 'a model that is never ready', body: obj({ model_id: 'no_versions', features: { x: 1 } }), status: 503 },
  { name: 'a model that throws', body: obj({ model_id: 'throws', features: {} }), status: 500 },
  { name: 'an error naming a path', body: obj({ model_id: 'leaky_error', features: {} }), status: 500 },
  { name: 'an undefined output', body: obj({ model_id: 'undef', features: {} }), status: 500 },
  { name: 'a BigInt deep in the output', body: obj({ model_id: 'bigint_deep', features: {} }), status: 500 },
  { name: 'a cyclic output', body: obj({ model_id: 'cycle', features: {} }), status: 500 },
  { name: 'a timeout', body: obj({ model_id: 'hang', features: {} }), status: 504 },
  // Left to Fastify both ways: the fast path takes only non-empty bodies declared as application/json.
  { name: 'an empty body', body: '', status: 400, fast: false },
  { name: 'another media type', body: obj({ model_id: 'ok', features: { x: 1 } }), headers: { 'content-type': 'text/plain' }, status: 415, fast: false },
  { name: 'a JSON media type in capitals', body: obj({ model_id: 'ok', features: { x: 1 } }), headers: { 'content-type': 'Application/JSON' }, status: 200, fast: false },
]

describe('POST /infer: the fast path answers as the Fastify route does', () => {
  it.each(cases)('$name', async (c) => {
    const fast = await send(c.body, 'length', c.headers)
    const routed = await send(c.body, 'chunked', c.headers)
    expect(fast.status).toBe(c.status)
    expect(comparable(fast)).toEqual(comparable(routed))
    expect(headerOrder(routed)[0]).toBe('x-content-type-options')
    expect(headerOrder(fast)[0]).toBe(c.fast === false ? 'x-content-type-options' : 'content-type')
  })

  it('a body over the limit is refused by Fastify before it is read (413)', async () => {
    const big = obj({ model_id: 'accept_any', features: 'x'.repeat(70_000) })
    const res = await send(big, 'length')
    expect(res.status).toBe(413)
    expect(res.json.error.code).toBe('payload_too_large')
    expect(headerOrder(res)[0]).toBe('x-content-type-options')
  })

  it('a query string goes to Fastify, which answers the same', async () => {
    const body = obj({ model_id: 'ok', features: { x: 1 } })
    const res = await rawRequest(svc.port, [`POST /infer?debug=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`])
    expect(res.status).toBe(200)
    expect(res.json.output).toEqual({ y: 2, tag: null })
    expect(headerOrder(res)[0]).toBe('x-content-type-options')
  })
})

describe('POST /infer: an error is observed under the version that gave it, both ways', () => {
  it('a model that throws (500) and features its schema refuses (400) are logged with the version; a timeout and an unknown model with none', async () => {
    const cases = [
      { body: { model_id: 'throws', features: {} }, status: 500, version: '1' },
      { body: { model_id: 'ok', features: { x: 'two' } }, status: 400, version: '1' },
      // The deadline answered, not a version (it may not have been reached: queueing counts too).
      { body: { model_id: 'hang', features: {} }, status: 504, version: null },
      { body: { model_id: 'no_such_model', features: {} }, status: 404, version: null },
    ]
    for (const framing of ['length', 'chunked'] as const) {
      for (const [i, c] of cases.entries()) {
        const id = `failed-${framing}-${i}`
        expect((await send(obj(c.body), framing, { 'x-request-id': id })).status).toBe(c.status)
        const line = await svc.waitForLog((l) => l['log'] === 'access' && l['request_id'] === id)
        expect(line).toMatchObject({ model_id: c.body.model_id, status: c.status, model_version: c.version })
      }
    }
  })
})

describe('POST /infer while the server drains', () => {
  it('an answer written after SIGTERM tells a keep-alive client to close the connection', async () => {
    const own = await startService({ config: CONFIG, workers: 1 })
    try {
      const body = obj({ model_id: 'io', features: { ms: 1500 } })
      // A keep-alive request (no `connection: close`): in flight when the worker starts draining.
      const answer = rawRequest(own.port, [`POST /infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`], { timeoutMs: 8000 })
      await new Promise((r) => setTimeout(r, 300))
      own.proc.kill('SIGTERM')
      const res = await answer
      expect(res.status).toBe(200)
      expect(res.headers['connection']).toBe('close')
      // The server closed the connection after the answer, rather than waiting for the client.
      expect(res.closedByServer).toBe(true)
      expect(res.elapsedMs).toBeLessThan(6000)
    } finally {
      expect(await own.stop()).toBe(0)
    }
  })
})
