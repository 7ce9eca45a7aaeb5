import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AccessLog } from '../observe/access-log.js'
import { VERSION } from './request-metrics.js'

/**
 * For an inference route's response hook (`path` is the route's): after the response is written, a
 * sampled line with the request id, model, version, status and latency. (Fastify's
 * `request.routeOptions` builds a dozen-field object on every read: not on this path.)
 */
export function accessLogObserver(log: AccessLog, sampleRate: number, path: string): (request: FastifyRequest, reply: FastifyReply, status: number, elapsedMs: number) => void {
  return function accessLog(request, reply, status, elapsedMs) {
    if (sampleRate >= 1 || Math.random() < sampleRate) {
      const body = request.body as { model_id?: unknown } | undefined
      const id = reply.getHeader('x-request-id')
      log.write({
        // Set by the handler; an error answered before it ran (bad JSON) has none.
        requestId: typeof id === 'string' ? id : null,
        modelId: typeof body?.model_id === 'string' ? body.model_id.slice(0, 256) : null,
        modelVersion: (request as FastifyRequest & { [VERSION]?: string })[VERSION] ?? null,
        status,
        latencyMs: Math.round(elapsedMs * 1000) / 1000,
        path,
      })
    }
  }
}
