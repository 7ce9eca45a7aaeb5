import type { FastifyInstance } from 'fastify'
import type { ModelRegistry } from '../../model/registry.js'
import { methodNotAllowed } from '../error-handler.js'

/** `GET /health`: the process answers. `GET /ready`: every configured model has a serving version. */
export function healthRoutes(app: FastifyInstance, deps: { registry: ModelRegistry }): void {
  const { registry } = deps
  app.get('/health', async () => ({ status: 'ok' }))
  app.get('/ready', async (_request, reply) => {
    if (registry.isReady()) return { status: 'ready' }
    const models: Record<string, string> = {}
    for (const entry of registry.list()) models[entry.id] = entry.serving ? 'ready' : entry.status
    return reply.code(503).send({ status: 'not_ready', models })
  })
  methodNotAllowed(app, '/health', ['GET'])
  methodNotAllowed(app, '/ready', ['GET'])
}
