import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AccessLog } from '../observe/access-log.js'
import { REQUEST_ID, VERSION, type Tagged } from './request-metrics.js'

/**
 * For an inference route's response hook (`path` is the route's): after the response is written, a
 * sampled line with the request id, model, version, status and latency. (Fastify's
 * `request.routeOptions` builds a dozen-field object on every read: not on this path.)
 */
export function accessLogObserver(log: AccessLog, sampleRate: number, path: string): (request: FastifyRequest, reply: FastifyReply, status: number, elapsedMs: number) => void {
  return function accessLog(request, _reply, status, elapsedMs) {
    if (sampleRate >= 1 || Math.random() < sampleRate) {
      const body = request.body as { model_id?: unknown } | undefined
      log.write({
        // Set by the handler; an error answered before it ran (bad JSON) has none.
        requestId: (request as Tagged)[REQUEST_ID] ?? null,
        modelId: typeof body?.model_id === 'string' ? body.model_id.slice(0, 256) : null,
        modelVersion: (request as Tagged)[VERSION] ?? null,
        status,
        latencyUs: Math.round(elapsedMs * 1000),
        path,
      })
    }
  }
}
