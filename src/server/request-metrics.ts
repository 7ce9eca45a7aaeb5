import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Metrics } from '../observe/metrics.js'

/** Set by the infer handlers once a version answered, read by the response hook. */
export const VERSION = Symbol('servekit.version')
/** Set by the infer handlers with the request id they picked (also the x-request-id header), read by the access log. */
export const REQUEST_ID = Symbol('servekit.requestId')
export type Tagged = FastifyRequest & { [VERSION]?: string; [REQUEST_ID]?: string }

export function tagRequestId(request: FastifyRequest, id: string): void {
  ;(request as Tagged)[REQUEST_ID] = id
}

export function tagVersion(request: FastifyRequest, version: string): void {
  ;(request as Tagged)[VERSION] = version
}

/**
 * For the inference routes' response hook: the count and latency, recorded after the response has
 * been written, so they add nothing to the client's latency. A request whose client disconnected
 * before the answer is reported by the route instead, as status 499 (server/app.ts).
 */
export function requestMetricsObserver(metrics: Metrics): (request: FastifyRequest, reply: FastifyReply, status: number, elapsedMs: number) => void {
  return function recordRequestMetrics(request, _reply, status, elapsedMs) {
    const body = request.body as { model_id?: unknown } | undefined
    metrics.recordRequest(typeof body?.model_id === 'string' ? body.model_id : undefined, (request as Tagged)[VERSION] ?? '', status, elapsedMs / 1000)
  }
}
