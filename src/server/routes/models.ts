import type { FastifyInstance } from 'fastify'
import type { ModelRegistry } from '../../model/registry.js'
import { describeModel } from '../admin/describe.js'
import { methodNotAllowed } from '../error-handler.js'

/** `GET /models`: every configured model, its versions (serving, loaded, failed), load time and self-test. */
export function modelsRoutes(app: FastifyInstance, deps: { registry: ModelRegistry }): void {
  const { registry } = deps
  app.get('/models', async () => ({ models: registry.list().map(describeModel) }))
  methodNotAllowed(app, '/models', ['GET'])
}
