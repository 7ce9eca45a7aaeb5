// The ceiling: `POST /infer` on bare node:http + node:cluster, no framework, same contract as
// servekit for the bench models (envelope checks, request id, the same response body and headers,
// security headers included).
//
//   node bench/servers/bare.mjs --port 0 --host 127.0.0.1 --workers 2
//
// The primary prints one JSON line {"msg":"bare listening","port":…} once every worker listens,
// and stops its workers on SIGTERM/SIGINT.
import cluster from 'node:cluster'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, workers: { type: 'string', default: '2' } },
})
const workers = Number(args.workers)

if (cluster.isPrimary) {
  let listening = 0
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (m) => {
      if (m?.type === 'listening' && ++listening === workers) {
        process.stdout.write(JSON.stringify({ msg: 'bare listening', port: m.port, workers, pid: process.pid }) + '\n')
      }
    })
  }
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM')
    setTimeout(() => process.exit(1), 5000).unref()
  }
  cluster.on('exit', () => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
  })
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
} else {
  serve()
}

function serve() {
  const models = loadModels()
  const SAFE_ID = /^[\x21-\x7e]{1,128}$/
  const BODY_LIMIT = 1024 * 1024
  const ALLOWED = new Set(['model_id', 'features', 'request_id', 'parameters'])

  // The response headers servekit sends on every response (src/server/security-headers.ts): the
  // same bytes on the wire, so the ceiling pays for them too (they cost it ~6% here, measured).
  const SECURITY_HEADERS = {
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
  }
  const send = (res, status, body, requestId) => {
    const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS }
    if (requestId !== undefined) headers['x-request-id'] = requestId
    res.writeHead(status, headers)
    res.end(body)
  }
  const fail = (res, status, code, message) => send(res, status, JSON.stringify({ error: { code, message } }))

  const handle = (req, res, text) => {
    let body
    try {
      body = JSON.parse(text)
    } catch {
      return fail(res, 400, 'invalid_json', 'request body is not valid JSON')
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return fail(res, 400, 'invalid_request', 'body: must be object')
    for (const k in body) if (!ALLOWED.has(k)) return fail(res, 400, 'invalid_request', `body.${k}: is not a known field`)
    const { model_id: modelId, features, request_id: bodyId, parameters } = body
    if (typeof modelId !== 'string' || modelId.length < 1 || modelId.length > 256) return fail(res, 400, 'invalid_request', 'body.model_id: must be string')
    if (!('features' in body)) return fail(res, 400, 'invalid_request', 'body.features: is required')
    if (bodyId !== undefined && (typeof bodyId !== 'string' || bodyId.length < 1 || bodyId.length > 128)) return fail(res, 400, 'invalid_request', 'body.request_id: must be string')
    if (parameters !== undefined && (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters))) return fail(res, 400, 'invalid_request', 'body.parameters: must be object')
    const model = models.get(modelId)
    if (model === undefined) return fail(res, 404, 'model_not_found', `model "${modelId.slice(0, 64)}" not found`)
    const header = req.headers['x-request-id']
    const requestId = bodyId !== undefined && SAFE_ID.test(bodyId) ? bodyId : typeof header === 'string' && SAFE_ID.test(header) ? header : randomUUID()
    const output = model.predict(features)
    if (output === undefined) return fail(res, 400, 'invalid_request', 'features: invalid')
    send(res, 200, JSON.stringify({ output, model_id: modelId, model_version: model.version, request_id: requestId }), requestId)
  }

  const server = http.createServer((req, res) => {
    if (req.url !== '/infer') return fail(res, 404, 'not_found', `no route for ${req.method} ${req.url}`)
    if (req.method !== 'POST') return fail(res, 405, 'method_not_allowed', `${req.method} is not allowed on /infer`)
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return fail(res, 415, 'unsupported_media_type', 'request body must be application/json')
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size <= BODY_LIMIT) chunks.push(c)
    })
    req.on('end', () => {
      if (size > BODY_LIMIT) return fail(res, 413, 'payload_too_large', 'request body is larger than the limit')
      handle(req, res, chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'))
    })
  })
  server.listen(Number(args.port), args.host, () => {
    process.send?.({ type: 'listening', port: server.address().port })
  })
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
  })
}

/** The bench models, by hand: the same artifacts and arithmetic as bench/service/src/*.ts. */
function loadModels() {
  const dir = new URL('../service/models/', import.meta.url)
  const { offset } = JSON.parse(readFileSync(new URL('sum/1/offset.json', dir), 'utf8'))
  const c = JSON.parse(readFileSync(new URL('tabular/1/coefficients.json', dir), 'utf8'))
  const names = c.feature_names
  const w = new Float64Array(names.length)
  let bias = c.intercept
  for (let i = 0; i < names.length; i++) {
    w[i] = c.weights[i] / c.scale[i]
    bias -= w[i] * c.mean[i]
  }
  const isObject = (f) => f !== null && typeof f === 'object' && !Array.isArray(f)
  return new Map([
    ['sum', {
      version: '1',
      predict(f) {
        if (!isObject(f)) return undefined
        let total = offset
        for (const k in f) {
          const v = f[k]
          if (typeof v !== 'number') return undefined
          total += v
        }
        return total
      },
    }],
    ['tabular', {
      version: '1',
      predict(f) {
        if (!isObject(f)) return undefined
        let z = bias
        for (let i = 0; i < names.length; i++) {
          const v = f[names[i]]
          if (typeof v !== 'number') return undefined
          z += w[i] * v
        }
        const p = 1 / (1 + Math.exp(-z))
        return { benign_probability: p, label: p >= c.threshold ? 'benign' : 'malignant' }
      },
    }],
  ])
}
