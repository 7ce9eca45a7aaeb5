import type { FastifyInstance } from 'fastify'
import type { Predict, PredictBatch } from '../../model/predictor.js'
import { errorBody, methodNotAllowed } from '../error-handler.js'
import { pickRequestId } from '../request-id.js'
import { tagVersion } from '../request-metrics.js'
import type { onRequestHookHandler, onResponseHookHandler } from 'fastify'
import { batchBodySchema, batchResponseSchema, inferBodySchema, inferResponseSchema } from '../schemas.js'

interface InferBody {
  model_id: string
  model_version?: string
  features: unknown
  request_id?: string
  parameters?: Record<string, unknown>
}

interface BatchBody {
  model_id: string
  model_version?: string
  instances: unknown[]
  request_id?: string
  parameters?: Record<string, unknown>
}

// Requests are not cancelled on disconnect yet; predictors get a signal that never fires.
const NEVER = new AbortController().signal

/** `POST /infer` (one prediction) and `POST /infer/batch` (many feature sets for one model). */
export function inferRoutes(
  app: FastifyInstance,
  deps: { predict: Predict; predictBatch: PredictBatch; maxBatchItems: number; hooks?: { onRequest: onRequestHookHandler; onResponse: onResponseHookHandler } | undefined },
): void {
  const { predict, predictBatch } = deps
  const hooks = deps.hooks ?? {}

  app.post<{ Body: InferBody }>('/infer', { schema: { body: inferBodySchema, response: inferResponseSchema }, ...hooks }, async (request, reply) => {
    const body = request.body
    const requestId = pickRequestId(body.request_id, request.headers['x-request-id'])
    void reply.header('x-request-id', requestId)
    const result = await predict({ modelId: body.model_id, modelVersion: body.model_version, features: body.features, requestId, parameters: body.parameters }, NEVER)
    tagVersion(request, result.modelVersion)
    return { output: result.output, model_id: result.modelId, model_version: result.modelVersion, request_id: requestId }
  })

  app.post<{ Body: BatchBody }>(
    '/infer/batch',
    { schema: { body: batchBodySchema(deps.maxBatchItems), response: batchResponseSchema }, ...hooks },
    async (request, reply) => {
      const body = request.body
      const requestId = pickRequestId(body.request_id, request.headers['x-request-id'])
      void reply.header('x-request-id', requestId)
      const result = await predictBatch({ modelId: body.model_id, modelVersion: body.model_version, instances: body.instances, requestId, parameters: body.parameters }, NEVER)
      tagVersion(request, result.modelVersion)
      return {
        model_id: result.modelId,
        model_version: result.modelVersion,
        request_id: requestId,
        results: result.results.map((r) => ('error' in r ? errorBody(r.error) : r)),
      }
    },
  )

  methodNotAllowed(app, '/infer', ['POST'])
  methodNotAllowed(app, '/infer/batch', ['POST'])
}
