import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { RequestTrace, Tracing } from '../observe/tracing.js'

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
export function requestTracingHooks(tracing: Tracing, path: string): { onRequest: onRequestHookHandler; onResponse: (request: FastifyRequest, reply: FastifyReply, status: number) => void } {
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
    onResponse(request: FastifyRequest, _reply: FastifyReply, status: number) {
      const t = (request as Traced)[TRACE]
      if (t) {
        const body = request.body as { model_id?: unknown } | undefined
        tracing.endRequest(t, status, typeof body?.model_id === 'string' ? { 'servekit.model_id': body.model_id.slice(0, 256) } : {})
      }
    },
  }
}
