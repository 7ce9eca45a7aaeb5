import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isServekitError, ServekitError, type ErrorCode } from '../errors.js'
import type { Logger } from '../observe/logger.js'

/** The only place that knows HTTP statuses. `satisfies` keeps it exhaustive when a code is added. */
export const statusByCode = {
  invalid_json: 400,
  invalid_request: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  model_not_found: 404,
  version_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  prediction_failed: 500,
  invalid_output: 500,
  prediction_timeout: 504,
  overloaded: 503,
  not_ready: 503,
  internal_error: 500,
  config_invalid: 500,
  // Load-time codes reach HTTP only as answers to admin deploys: the version asked for is unusable.
  model_load_failed: 422,
  self_test_failed: 422,
  incompatible_version: 422,
  unauthorized: 401,
} as const satisfies Record<ErrorCode, number>

/** The body of every error response. */
export function errorBody(err: ServekitError): { error: { code: ErrorCode; message: string; field?: string } } {
  const field = err.details?.['field']
  return { error: typeof field === 'string' ? { code: err.code, message: err.message, field } : { code: err.code, message: err.message } }
}

/** Translates Fastify's own errors (parser, validation, limits) into catalogue codes. */
export function toServekitError(err: FastifyError | Error): ServekitError {
  if (isServekitError(err)) return err
  const e = err as FastifyError
  if (e.validation) {
    const v = e.validation[0]
    const field = fieldOf(v?.instancePath ?? '', v?.params as Record<string, unknown> | undefined)
    return new ServekitError('invalid_request', `${field}: ${describe(v?.keyword, v?.message, v?.params as Record<string, unknown> | undefined)}`, { details: { field } })
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServekitError('unsupported_media_type', 'request body must be application/json', { cause: err })
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServekitError('payload_too_large', 'request body is larger than the limit (server.bodyLimit)', { cause: err })
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ServekitError('invalid_json', 'request body is empty; send a JSON object', { cause: err })
  }
  if (err instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    const detail = err instanceof SyntaxError ? `: ${err.message}` : ''
    return new ServekitError('invalid_json', `request body is not valid JSON${detail}`, { cause: err })
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ServekitError('invalid_request', err.message, { cause: err })
  }
  return new ServekitError('internal_error', 'unexpected server error', { cause: err })
}

function fieldOf(instancePath: string, params: Record<string, unknown> | undefined): string {
  const base = ['body', ...instancePath.split('/').filter(Boolean)].join('.')
  const extra = params?.['missingProperty'] ?? params?.['additionalProperty']
  return typeof extra === 'string' ? `${base}.${extra}` : base
}

function describe(keyword: string | undefined, message: string | undefined, params: Record<string, unknown> | undefined): string {
  if (keyword === 'required') return 'is required'
  if (keyword === 'additionalProperties') return 'is not a known field'
  if (keyword === 'type') return `must be ${String(params?.['type'])}`
  return message ?? 'is invalid'
}

/** Installs the error, 404 and 405 handlers: every error leaves as `{"error": {"code", "message"}}`. */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const error = toServekitError(err)
    const status = statusByCode[error.code]
    if (status >= 500) {
      logger.error({ err: error.cause ?? error, code: error.code, url: request.url }, error.message)
    }
    void reply.code(status).send(errorBody(error))
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(new ServekitError('not_found', `no route for ${request.method} ${request.url.slice(0, 200)}`)))
  })
}

/** Answers other methods on a known path with 405 and an Allow header (Fastify would say 404). */
export function methodNotAllowed(app: FastifyInstance, url: string, allowed: readonly string[]): void {
  const all = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const
  const others = all.filter((m) => !allowed.includes(m) && !(m === 'HEAD' && allowed.includes('GET')))
  app.route({
    method: others,
    url,
    handler: async (request, reply) => {
      void reply.header('allow', allowed.join(', '))
      throw new ServekitError('method_not_allowed', `${request.method} is not allowed on ${url} (allowed: ${allowed.join(', ')})`)
    },
  })
}
