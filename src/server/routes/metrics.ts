import type { FastifyInstance } from 'fastify'
import { methodNotAllowed } from '../error-handler.js'

/** `GET /metrics`: Prometheus text for the whole service (every worker, summed by the primary). */
export function metricsRoutes(app: FastifyInstance, deps: { scrape: () => Promise<{ text: string; contentType: string }> }): void {
  app.get('/metrics', async (_request, reply) => {
    const { text, contentType } = await deps.scrape()
    return reply.type(contentType).send(text)
  })
  methodNotAllowed(app, '/metrics', ['GET'])
}
