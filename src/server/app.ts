import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import AjvCompiler from '@fastify/ajv-compiler'
import Fastify, { type FastifyInstance, type onResponseHookHandler } from 'fastify'
import type { ServerConfig } from '../config/schema.js'
import type { PredictBatch, PredictFn } from '../model/predictor.js'
import type { ModelRegistry } from '../model/registry.js'
import type { Logger } from '../observe/logger.js'
import type { AccessLog } from '../observe/access-log.js'
import { httpLayerErrors, installErrorHandling } from './error-handler.js'
import { SECURITY_HEADERS, securityHeaders } from './security-headers.js'
import { healthRoutes } from './routes/health.js'
import { inferRoutes, type InferRouteHooks } from './routes/infer.js'
import { modelsRoutes } from './routes/models.js'
import { adminRoutes, type AdminDeps } from './routes/admin.js'
import { metricsRoutes } from './routes/metrics.js'
import { monitoringRoutes } from './routes/monitoring.js'
import type { Monitoring } from '../observe/monitoring/service-monitoring.js'
import { requestMetricsObserver, type ObservedRequest, type ResponseObserver } from './request-metrics.js'
import { inferFastPath, type FastPath } from './infer-fast-path.js'
import { inferBodySchema } from './schemas.js'
import { requestTracingHooks } from './request-tracing.js'
import { accessLogObserver } from './access-log.js'
import { BODY_JSON } from './routes/infer.js'
import type { Tracing } from '../observe/tracing.js'
import type { Metrics } from '../observe/metrics.js'

export interface AppDeps {
  predict: PredictFn
  predictBatch: PredictBatch
  registry: ModelRegistry
  logger: Logger
  server: Pick<ServerConfig, 'bodyLimit' | 'maxBatchItems' | 'requestTimeoutMs'>
  /** The management API; `separate` serves it from `buildAdminApp` instead of this app. */
  admin: Omit<AdminDeps, 'registry'> & { separate: boolean }
  /** Absent when metrics are turned off: no hooks, no /metrics route. */
  metrics?: { metrics: Metrics; scrape: () => Promise<{ text: string; contentType: string }> } | undefined
  /** Absent when tracing is off: no hooks, no OpenTelemetry calls. */
  tracing?: Tracing | undefined
  /** Absent when the access log is off (sample rate 0). */
  accessLog?: { log: AccessLog; sampleRate: number } | undefined
  /** Absent when monitoring is off: GET /models/:id/monitoring says so. */
  monitoring?: Monitoring | undefined
  /** Keep each JSON body's text for the data plane (PredictRequest.bodyJson): when the prediction log is on. */
  keepBodyJson?: boolean | undefined
}

/** Assembles the HTTP app. It never listens: `cluster/` (or a test) does. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const front: { take: FastPath } = { take: () => false }
  const app = createFastify(deps, front)
  if (deps.keepBodyJson) keepBodyJson(app)
  inferRoutes(app, {
    predict: deps.predict,
    predictBatch: deps.predictBatch,
    maxBatchItems: deps.server.maxBatchItems,
    hooks: (path) => routeHooks(deps, path),
    tracing: deps.tracing,
  })
  if (deps.metrics) metricsRoutes(app, deps.metrics)
  healthRoutes(app, deps)
  modelsRoutes(app, deps)
  monitoringRoutes(app, deps)
  if (!deps.admin.separate) adminRoutes(app, { ...deps.admin, registry: deps.registry })
  // Tracing's spans start in Fastify hooks: with tracing on, every request goes through Fastify.
  if (!deps.tracing) front.take = fastPath(app, deps)
  return app
}

/** The /infer fast path (server/infer-fast-path.ts), made of the same parts as the Fastify route. */
function fastPath(app: FastifyInstance, deps: AppDeps): FastPath {
  let draining = false
  app.addHook('preClose', (done) => {
    draining = true
    done()
  })
  const observe = allOf(responseObservers(deps, '/infer'))
  return inferFastPath({
    predict: deps.predict,
    bodyLimit: deps.server.bodyLimit,
    parseJson: jsonParser(app),
    validate: AjvCompiler()({}, { customOptions: AJV_OPTIONS })({ schema: inferBodySchema, method: 'POST', url: '/infer', httpPart: 'body' }),
    keepBodyJson: deps.keepBodyJson === true,
    logger: deps.logger,
    observe,
    abandoned: observe && ((request, _res, elapsedMs) => observe(request, CLIENT_CLOSED, elapsedMs)),
    draining: () => draining,
  })
}

/** Fastify's own JSON parser (its errors, its `__proto__` and `constructor` checks) as a function that returns or throws. */
function jsonParser(app: FastifyInstance): (text: string) => unknown {
  const parse = app.getDefaultJsonParser('error', 'error')
  let value: unknown
  let failure: Error | null = null
  const done = (err: Error | null, body?: unknown) => {
    failure = err
    value = body
  }
  return (text) => {
    parse(undefined as never, text, done)
    if (failure !== null) {
      const err = failure
      failure = null
      throw err
    }
    return value
  }
}

/** What observers are told when the client closed the connection before the answer (nginx's "client closed request"). */
const CLIENT_CLOSED = 499
/** Set on a response already reported as abandoned, so a late error event cannot report it again. */
const REPORTED = Symbol('servekit.reported')
type Reported = ServerResponse & { [REPORTED]?: true }

/** Metrics and access log, when on: told of every inference response on `path`. */
function responseObservers(deps: AppDeps, path: string): ResponseObserver[] {
  return [
    ...(deps.metrics ? [requestMetricsObserver(deps.metrics.metrics)] : []),
    ...(deps.accessLog ? [accessLogObserver(deps.accessLog.log, deps.accessLog.sampleRate, path)] : []),
  ]
}

/** One observer telling each of `observers` in turn (the only one itself); undefined when there are none. */
function allOf(observers: readonly ResponseObserver[]): ResponseObserver | undefined {
  if (observers.length <= 1) return observers[0]
  return (request, status, elapsedMs) => {
    for (const observe of observers) observe(request, status, elapsedMs)
  }
}

/**
 * Hooks for the inference routes only; none at all when tracing, metrics and the access log are
 * off. What runs after the response (span end, metrics, access log) is one Fastify hook calling
 * each in turn: every hook Fastify runs costs a step of its hook runner per request. A request
 * whose client went away before the answer gets no response and so no Fastify hook: `abandoned`
 * reports it to the same observers, with status 499.
 */
function routeHooks(deps: AppDeps, path: string): InferRouteHooks | undefined {
  const tracing = deps.tracing ? requestTracingHooks(deps.tracing, path) : undefined
  const observe = allOf([...(tracing ? [tracing.onResponse] : []), ...responseObservers(deps, path)])
  if (!tracing && !observe) return undefined
  return {
    route: { onRequest: tracing ? [tracing.onRequest] : [], onResponse: observe ? [afterResponse(observe)] : [] },
    abandoned:
      observe &&
      ((request: ObservedRequest, res: ServerResponse, elapsedMs: number) => {
        ;(res as Reported)[REPORTED] = true
        observe(request, CLIENT_CLOSED, elapsedMs)
      }),
  }
}

function afterResponse(observe: ResponseObserver): onResponseHookHandler {
  return (request, reply, done) => {
    if ((reply.raw as Reported)[REPORTED] !== true) observe(request, reply.statusCode, reply.elapsedTime)
    done()
  }
}

/**
 * Fastify's own JSON parser (the same errors, the same `__proto__` protection), which also keeps
 * the body's text on the request (`bodyJson`): a reference to the string the parser read, no copy.
 */
function keepBodyJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.decorateRequest(BODY_JSON, null)
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    ;(request as unknown as Record<typeof BODY_JSON, string>)[BODY_JSON] = body as string
    parse(request, body as string, done)
  })
}

/** The management API alone, for `admin.port` (e.g. bound to 127.0.0.1 or a private network). */
export function buildAdminApp(deps: AppDeps): FastifyInstance {
  const app = createFastify(deps)
  healthRoutes(app, deps)
  adminRoutes(app, { ...deps.admin, registry: deps.registry })
  return app
}

/** ajv's options for request bodies: types are part of the contract, "1" is not a number and 5 is not a model id. */
const AJV_OPTIONS = { coerceTypes: false, removeAdditional: false, allErrors: false } as const

/**
 * The Fastify app, on an HTTP server of its own making when `front` is given: each request goes to
 * `front.take` first (the /infer fast path), and to Fastify's router when it declines.
 */
function createFastify(deps: AppDeps, front?: { take: FastPath }): FastifyInstance {
  const { requestTimeoutMs } = deps.server
  // Node checks request deadlines every 30 s by default, which would let a slow (slowloris) client
  // hold a connection for 30 s past requestTimeoutMs; check every second instead (a walk of the
  // open connections). Passing requestTimeout here also caps the headers timeout at it.
  const http = { requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs) }
  const app = Fastify({
    // Access logging is servekit's own (off the hot path); Fastify's per-request logger stays off.
    logger: false,
    bodyLimit: deps.server.bodyLimit,
    requestTimeout: requestTimeoutMs,
    http,
    // What Fastify does with its own server (lib/server.js), done here for the one in front.
    ...(front && {
      serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void, options: { keepAliveTimeout?: number; connectionTimeout?: number }) => {
        const server = createServer(http, (req, res) => {
          if (!front.take(req, res)) handler(req, res)
        })
        if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout
        server.setTimeout(options.connectionTimeout ?? 0)
        return server
      },
    }),
    // While draining, a request arriving on an open keep-alive connection is served, with
    // `connection: close`, rather than refused with Fastify's own 503 body: the client reconnects to
    // a worker that stays, and nothing it sent is lost (rolling restarts, memory recycling, SIGTERM).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ...httpLayerErrors(SECURITY_HEADERS),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: { customOptions: AJV_OPTIONS },
  })
  // The API speaks JSON only: without this, text/plain bodies would reach validation as strings.
  app.removeContentTypeParser('text/plain')
  securityHeaders(app)
  installErrorHandling(app, deps.logger)
  return app
}
