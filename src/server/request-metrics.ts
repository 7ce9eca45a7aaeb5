import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Metrics } from '../observe/metrics.js'

/** Set by the infer handlers once a version answered, read by the response hook. */
export const VERSION = Symbol('servekit.version')
type Tagged = FastifyRequest & { [VERSION]?: string }

export function tagVersion(request: FastifyRequest, version: string): void {
  ;(request as Tagged)[VERSION] = version
}

/**
 * For the inference routes' response hook: the count and latency, recorded after the response has
 * been written, so they add nothing to the client's latency. Fastify runs no response hook for a
 * client that disconnected first: such requests are not counted.
 */
export function requestMetricsObserver(metrics: Metrics): (request: FastifyRequest, reply: FastifyReply) => void {
  return function recordRequestMetrics(request, reply) {
    const body = request.body as { model_id?: unknown } | undefined
    metrics.recordRequest(typeof body?.model_id === 'string' ? body.model_id : undefined, (request as Tagged)[VERSION] ?? '', reply.statusCode, reply.elapsedTime / 1000)
  }
}
