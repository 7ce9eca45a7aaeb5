import Fastify, { type FastifyInstance } from 'fastify'
import type { ServerConfig } from '../config/schema.js'
import type { Predict, PredictBatch } from '../model/predictor.js'
import type { ModelRegistry } from '../model/registry.js'
import type { Logger } from '../observe/logger.js'
import { installErrorHandling } from './error-handler.js'
import { healthRoutes } from './routes/health.js'
import { inferRoutes } from './routes/infer.js'
import { modelsRoutes } from './routes/models.js'
import { adminRoutes, type AdminDeps } from './routes/admin.js'
import { metricsRoutes } from './routes/metrics.js'
import { requestMetricsHooks } from './request-metrics.js'
import type { Metrics } from '../observe/metrics.js'

export interface AppDeps {
  predict: Predict
  predictBatch: PredictBatch
  registry: ModelRegistry
  logger: Logger
  server: Pick<ServerConfig, 'bodyLimit' | 'maxBatchItems' | 'requestTimeoutMs'>
  /** The management API; `separate` serves it from `buildAdminApp` instead of this app. */
  admin: Omit<AdminDeps, 'registry'> & { separate: boolean }
  /** Absent when metrics are turned off: no hooks, no /metrics route. */
  metrics?: { metrics: Metrics; scrape: () => Promise<{ text: string; contentType: string }> } | undefined
}

/** Assembles the HTTP app. It never listens: `cluster/` (or a test) does. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = createFastify(deps)
  inferRoutes(app, {
    predict: deps.predict,
    predictBatch: deps.predictBatch,
    maxBatchItems: deps.server.maxBatchItems,
    hooks: deps.metrics ? requestMetricsHooks(deps.metrics.metrics) : undefined,
  })
  if (deps.metrics) metricsRoutes(app, deps.metrics)
  healthRoutes(app, deps)
  modelsRoutes(app, deps)
  if (!deps.admin.separate) adminRoutes(app, { ...deps.admin, registry: deps.registry })
  return app
}

/** The management API alone, for `admin.port` (e.g. bound to 127.0.0.1 or a private network). */
export function buildAdminApp(deps: AppDeps): FastifyInstance {
  const app = createFastify(deps)
  healthRoutes(app, deps)
  adminRoutes(app, { ...deps.admin, registry: deps.registry })
  return app
}

function createFastify(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    // Access logging is servekit's own (off the hot path); Fastify's per-request logger stays off.
    logger: false,
    bodyLimit: deps.server.bodyLimit,
    requestTimeout: deps.server.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Types are part of the contract: "1" is not a number and 5 is not a model id.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  })
  // The API speaks JSON only: without this, text/plain bodies would reach validation as strings.
  app.removeContentTypeParser('text/plain')
  installErrorHandling(app, deps.logger)
  return app
}
