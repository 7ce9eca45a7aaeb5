import type { AccessLog } from '../observe/access-log.js'
import { modelIdOf, REQUEST_ID, VERSION, type ResponseObserver } from './request-metrics.js'

/**
 * For an inference route's response hook (`path` is the route's): after the response is written, a
 * sampled line with the request id, model, version, status and latency. (Fastify's
 * `request.routeOptions` builds a dozen-field object on every read: not on this path.)
 */
export function accessLogObserver(log: AccessLog, sampleRate: number, path: string): ResponseObserver {
  return function accessLog(request, status, elapsedMs) {
    if (sampleRate >= 1 || Math.random() < sampleRate) {
      log.write({
        // Set by the handler; an error answered before it ran (bad JSON) has none.
        requestId: request[REQUEST_ID] ?? null,
        modelId: modelIdOf(request)?.slice(0, 256) ?? null,
        modelVersion: request[VERSION] ?? null,
        status,
        latencyUs: Math.round(elapsedMs * 1000),
        path,
      })
    }
  }
}
