// The ceiling: `POST /infer` on bare node:http + node:cluster, no framework, same contract as
// servekit for the bench models (envelope checks, request id, the same response body and headers,
// security headers included).
//
//   node bench/servers/bare.mjs --port 0 --host 127.0.0.1 --workers 2
//
// The primary prints one JSON line {"msg":"bare listening","port":…} once every worker listens,
// and stops its workers on SIGTERM/SIGINT.
import http from 'node:http'
import { loadModels, pickRequestId, runCluster, SECURITY_HEADERS, serverArgs } from './common.mjs'

const args = serverArgs()
runCluster('bare', args.workers, serve)

function serve(listening) {
  const models = loadModels()
  const BODY_LIMIT = 1024 * 1024
  const ALLOWED = new Set(['model_id', 'features', 'request_id', 'parameters'])

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
    const requestId = pickRequestId(bodyId, req.headers['x-request-id'])
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
  server.listen(args.port, args.host, () => listening(server.address().port))
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
  })
}
