import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { PredictBatch, PredictFn, PredictResult } from '../../model/predictor.js'
import { errorBody, methodNotAllowed } from '../error-handler.js'
import { pickRequestId } from '../request-id.js'
import { tagRequestId, tagVersion, type ObservedRequest } from '../request-metrics.js'
import type { onRequestHookHandler, onResponseHookHandler } from 'fastify'
import type { Tracing } from '../../observe/tracing.js'
import { traceOf } from '../request-tracing.js'
import { RequestSignal } from '../../traffic/request-signal.js'
import { batchBodySchema, batchResponseSchema, inferBodySchema, inferResponseSchema } from '../schemas.js'

export interface InferBody {
  model_id: string
  model_version?: string
  features: unknown
  request_id?: string
  parameters?: Record<string, unknown>
  experiment_key?: string
}

interface BatchBody {
  model_id: string
  model_version?: string
  instances: unknown[]
  request_id?: string
  parameters?: Record<string, unknown>
  experiment_key?: string
}

/** The request's property holding its JSON body's text, when the app keeps it (app.ts). */
export const BODY_JSON = 'servekitBodyJson'
type WithBodyJson = FastifyRequest & { [BODY_JSON]?: string | null }

const ABORT = Symbol('servekit.abort')
type Watched = ServerResponse & { [ABORT]?: RequestSignal }

/**
 * A signal aborted when the client closes the connection before the response was written, so
 * queued and batched work drops out and models may stop early (`context.signal`). It starts
 * watching the response's 'close' (the request's fires as soon as its body was read) only when
 * something subscribes: a synchronous model's request, answered in the turn it arrived, adds no
 * listener at all. One shared listener function, no closure.
 */
class DisconnectSignal extends RequestSignal {
  private watching = false

  constructor(private readonly res: Watched) {
    super()
  }

  override addEventListener(type: 'abort', listener: { handleEvent(): void }): void {
    this.watch()
    super.addEventListener(type, listener)
  }

  override toAbortSignal(): AbortSignal {
    this.watch()
    return super.toAbortSignal()
  }

  private watch(): void {
    if (this.watching) return
    this.watching = true
    const res = this.res
    if (res.destroyed && !res.writableFinished) {
      this.abort()
      return
    }
    res[ABORT] = this
    res.on('close', onResponseClose)
  }
}

function onResponseClose(this: Watched): void {
  if (!this.writableFinished) this[ABORT]?.abort()
}

/** The cancellation of the request answered by `res` (see DisconnectSignal). */
export const disconnectSignal = (res: ServerResponse): RequestSignal => new DisconnectSignal(res as Watched)

/** Told about a request whose client closed the connection before the answer, with the time until then. */
export type Abandoned = (request: ObservedRequest, res: ServerResponse, elapsedMs: number) => void

/** An inference route's hooks, and who to tell about a request its client abandoned. */
export interface InferRouteHooks {
  route: { onRequest: onRequestHookHandler[]; onResponse: onResponseHookHandler[] }
  abandoned?: Abandoned | undefined
}

/**
 * Tells `abandoned` should the connection close before the response is written (the client gave
 * up), once `answered` settled: by then the handler has tagged the version that answered, so a
 * slow version shows in its own series. Only for answers still pending: an answer given in the
 * turn the request arrived is written before any close could be seen.
 */
export function watchAbandoned(request: ObservedRequest, res: ServerResponse, answered: Promise<unknown>, elapsedMs: () => number, abandoned: Abandoned): void {
  res.once('close', () => {
    if (res.writableFinished) return
    const elapsed = elapsedMs()
    const report = () => abandoned(request, res, elapsed)
    answered.then(report, report)
  })
}

/** `POST /infer` (one prediction) and `POST /infer/batch` (many feature sets for one model). */
export function inferRoutes(
  app: FastifyInstance,
  deps: {
    predict: PredictFn
    predictBatch: PredictBatch
    maxBatchItems: number
    /** The route-level hooks of an inference route, by its path (none when undefined). */
    hooks?: (path: string) => InferRouteHooks | undefined
    tracing?: Tracing | undefined
  },
): void {
  const { predict, predictBatch, tracing } = deps
  const inferHooks = deps.hooks?.('/infer')
  const batchHooks = deps.hooks?.('/infer/batch')

  /** The response body; `arm` is left out of the JSON when no experiment chose the version. */
  const answer = (request: FastifyRequest, result: PredictResult, requestId: string) => {
    tagVersion(request, result.modelVersion)
    return { output: result.output, model_id: result.modelId, model_version: result.modelVersion, request_id: requestId, arm: result.arm ?? undefined }
  }

  // Not an async handler: a synchronous model's answer is sent in the same turn, with no promise
  // made (Fastify sends a returned value, and a throw as an error, as it does for async handlers).
  app.post<{ Body: InferBody }>('/infer', { schema: { body: inferBodySchema, response: inferResponseSchema }, ...inferHooks?.route }, (request, reply) => {
    const body = request.body
    const requestId = pickRequestId(body.request_id, request.headers['x-request-id'])
    void reply.header('x-request-id', requestId)
    tagRequestId(request, requestId)
    const bodyJson = (request as WithBodyJson)[BODY_JSON] ?? undefined
    const req = { modelId: body.model_id, modelVersion: body.model_version, features: body.features, requestId, parameters: body.parameters, experimentKey: body.experiment_key, bodyJson }
    const signal = disconnectSignal(reply.raw)
    // With tracing on, the data plane runs inside the request's span, so routing and predict become its children.
    const t = tracing === undefined ? undefined : traceOf(request)
    const result = t === undefined ? predict(req, signal) : tracing!.within(t, () => predict(req, signal))
    if (!(result instanceof Promise)) return answer(request, result, requestId)
    const answered = result.then((r) => answer(request, r, requestId))
    if (inferHooks?.abandoned) watchAbandoned(request, reply.raw, answered, () => reply.elapsedTime, inferHooks.abandoned)
    return answered
  })

  app.post<{ Body: BatchBody }>(
    '/infer/batch',
    { schema: { body: batchBodySchema(deps.maxBatchItems), response: batchResponseSchema }, ...batchHooks?.route },
    async (request, reply) => {
      const body = request.body
      const requestId = pickRequestId(body.request_id, request.headers['x-request-id'])
      void reply.header('x-request-id', requestId)
      tagRequestId(request, requestId)
      const req = { modelId: body.model_id, modelVersion: body.model_version, instances: body.instances, requestId, parameters: body.parameters, experimentKey: body.experiment_key }
      const signal = disconnectSignal(reply.raw)
      const t = tracing === undefined ? undefined : traceOf(request)
      const answered = (t === undefined ? predictBatch(req, signal) : tracing!.within(t, () => predictBatch(req, signal))).then((r) => {
        tagVersion(request, r.modelVersion)
        return r
      })
      if (batchHooks?.abandoned) watchAbandoned(request, reply.raw, answered, () => reply.elapsedTime, batchHooks.abandoned)
      const result = await answered
      return {
        model_id: result.modelId,
        model_version: result.modelVersion,
        request_id: requestId,
        arm: result.arm ?? undefined,
        results: result.results.map((r) => ('error' in r ? errorBody(r.error) : r)),
      }
    },
  )

  methodNotAllowed(app, '/infer', ['POST'])
  methodNotAllowed(app, '/infer/batch', ['POST'])
}
