// The framework's floor: `POST /infer` on Fastify alone, with servekit's envelope schemas (compiled
// by Fastify's ajv and fast-json-stringify, as in servekit), Fastify options and security-header
// hook, and the bench models written by hand, but none of servekit's own work: no model registry,
// traffic layer, input schema or observability. It shows what a Fastify route costs on its own:
// servekit answers /infer on node:http for the usual request (src/server/infer-fast-path.ts)
// because this floor was below issue 3's target.
//
//   node bench/servers/fastify.mjs --port 0 --host 127.0.0.1 --workers 2   (after npm run build)
//
// The primary prints one JSON line {"msg":"fastify listening","port":…} once every worker listens.
import Fastify from 'fastify'
import { inferBodySchema, inferResponseSchema } from '../../dist/server/schemas.js'
import { loadModels, pickRequestId, runCluster, SECURITY_HEADERS, serverArgs } from './common.mjs'

const args = serverArgs()
runCluster('fastify', args.workers, serve)

function serve(listening) {
  const models = loadModels()
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  })
  app.removeContentTypeParser('text/plain')
  const headers = Object.entries(SECURITY_HEADERS)
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.header(name, value)
    done()
  })
  app.setErrorHandler((err, _request, reply) => {
    const status = err.validation ? 400 : err.statusCode ?? 500
    const code = err.code === 'model_not_found' ? err.code : status === 415 ? 'unsupported_media_type' : status === 413 ? 'payload_too_large' : status < 500 ? 'invalid_request' : 'internal_error'
    void reply.code(status).send({ error: { code, message: err.message } })
  })
  app.post('/infer', { schema: { body: inferBodySchema, response: inferResponseSchema } }, (request, reply) => {
    const body = request.body
    const model = models.get(body.model_id)
    if (model === undefined) throw Object.assign(new Error(`model "${body.model_id.slice(0, 64)}" not found`), { statusCode: 404, code: 'model_not_found' })
    const requestId = pickRequestId(body.request_id, request.headers['x-request-id'])
    void reply.header('x-request-id', requestId)
    const output = model.predict(body.features)
    if (output === undefined) throw Object.assign(new Error('features: invalid'), { statusCode: 400 })
    return { output, model_id: body.model_id, model_version: model.version, request_id: requestId }
  })
  app.listen({ port: args.port, host: args.host }).then(() => listening(app.server.address().port))
  process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
}
