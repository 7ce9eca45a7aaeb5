import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { RequestTrace, Tracing } from '../observe/tracing.js'
import { modelIdOf, type ResponseObserver } from './request-metrics.js'

const TRACE = Symbol('servekit.trace')
type Traced = FastifyRequest & { [TRACE]?: RequestTrace }

/** The request's server span, when tracing is on. */
export function traceOf(request: FastifyRequest): RequestTrace | undefined {
  return (request as Traced)[TRACE]
}

/**
 * Route-level hooks for the inference routes when tracing is on: the server span starts on arrival
 * (continuing the caller's `traceparent`, echoed back in the response) and ends once the response is written.
 */
export function requestTracingHooks(tracing: Tracing, path: string): { onRequest: onRequestHookHandler; onResponse: ResponseObserver } {
  return {
    onRequest(request: FastifyRequest, reply: FastifyReply, done) {
      const t = tracing.startRequest(`${request.method} ${path}`, request.headers, {
        'http.request.method': request.method,
        'url.path': request.url,
      })
      ;(request as Traced)[TRACE] = t
      void reply.header('traceparent', t.traceparent)
      done()
    },
    onResponse(request, status) {
      const t = (request as { [TRACE]?: RequestTrace })[TRACE]
      if (t) {
        const modelId = modelIdOf(request)
        tracing.endRequest(t, status, modelId !== undefined ? { 'servekit.model_id': modelId.slice(0, 256) } : {})
      }
    },
  }
}
