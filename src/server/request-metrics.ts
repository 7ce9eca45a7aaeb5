import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import type { Metrics } from '../observe/metrics.js'

/** Set by the infer handlers once a version answered, read by the response hook. */
export const VERSION = Symbol('servekit.version')
type Tagged = FastifyRequest & { [VERSION]?: string }

export function tagVersion(request: FastifyRequest, version: string): void {
  ;(request as Tagged)[VERSION] = version
}

/**
 * Route-level hooks for the inference routes: the count and latency are recorded in onResponse,
 * after the response has been written, so they add nothing to the client's latency.
 */
export function requestMetricsHooks(metrics: Metrics): { onResponse: onResponseHookHandler } {
  return {
    // Fastify runs no response hook for a client that disconnected first: such requests are not counted.
    onResponse(request: FastifyRequest, reply: FastifyReply, done) {
      const body = request.body as { model_id?: unknown } | undefined
      metrics.recordRequest(typeof body?.model_id === 'string' ? body.model_id : undefined, (request as Tagged)[VERSION] ?? '', reply.statusCode, reply.elapsedTime / 1000)
      done()
    },
  }
}
