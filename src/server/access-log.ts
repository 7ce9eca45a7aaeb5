import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import type { Logger } from '../observe/logger.js'
import { VERSION } from './request-metrics.js'

/**
 * Route-level onResponse hook for the inference routes: after the response is written, a sampled
 * line with the request id, model, version, status and latency.
 */
export function accessLogHook(logger: Logger, sampleRate: number): onResponseHookHandler {
  return function accessLog(request: FastifyRequest, reply: FastifyReply, done) {
    if (sampleRate >= 1 || Math.random() < sampleRate) {
      const body = request.body as { model_id?: unknown } | undefined
      logger.info({
        request_id: reply.getHeader('x-request-id'),
        model_id: typeof body?.model_id === 'string' ? body.model_id.slice(0, 256) : null,
        model_version: (request as FastifyRequest & { [VERSION]?: string })[VERSION] ?? null,
        status: reply.statusCode,
        latency_ms: Math.round(reply.elapsedTime * 1000) / 1000,
        path: request.routeOptions.url,
      })
    }
    done()
  }
}
