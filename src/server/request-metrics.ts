import { versionThatFailed } from '../model/version-predict.js'
import type { Metrics } from '../observe/metrics.js'

/** Set by the infer handlers once a version answered, read by the response observers. */
export const VERSION = Symbol('servekit.version')
/** Set by the infer handlers with the request id they picked (also the x-request-id header), read by the access log. */
export const REQUEST_ID = Symbol('servekit.requestId')

/**
 * What the response observers read of an inference request: its parsed body (absent when it was
 * not JSON) and the tags the handler set. A Fastify request is one; so is the fast path's exchange
 * (server/infer-fast-path.ts).
 */
export interface ObservedRequest {
  readonly body?: unknown
  [VERSION]?: string
  [REQUEST_ID]?: string
}

/** Told once per inference request, after its response was written: the status sent and the time taken, in milliseconds. */
export type ResponseObserver = (request: ObservedRequest, status: number, elapsedMs: number) => void

export function tagRequestId(request: ObservedRequest, id: string): void {
  request[REQUEST_ID] = id
}

export function tagVersion(request: ObservedRequest, version: string): void {
  request[VERSION] = version
}

/** For an error answer: tags the version whose predict gave `err`, when one did (so its failures count under it). */
export function tagFailedVersion(request: ObservedRequest, err: unknown): void {
  const version = versionThatFailed(err)
  if (version !== undefined) request[VERSION] = version
}

/** The body's model id when it has one (a request refused before parsing has none). */
export function modelIdOf(request: ObservedRequest): string | undefined {
  const id = (request.body as { model_id?: unknown } | null | undefined)?.model_id
  return typeof id === 'string' ? id : undefined
}

/**
 * For the inference routes' response hook: the count and latency, recorded after the response has
 * been written, so they add nothing to the client's latency. A request whose client disconnected
 * before the answer is reported by the route instead, as status 499 (server/app.ts).
 */
export function requestMetricsObserver(metrics: Metrics): ResponseObserver {
  return function recordRequestMetrics(request, status, elapsedMs) {
    metrics.recordRequest(modelIdOf(request), request[VERSION] ?? '', status, elapsedMs / 1000)
  }
}
