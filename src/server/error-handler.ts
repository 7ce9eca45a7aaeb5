import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { isServekitError, ServekitError, type ErrorCode } from '../errors.js'
import type { Logger } from '../observe/logger.js'
import { tagFailedVersion } from './request-metrics.js'

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

/**
 * The body of every error response. Messages of server-side failures (5xx, 422) may carry file
 * paths (a model's fs error, a store directory): outside development they are cut to their last
 * segment, so clients learn nothing of the host's layout. Logs keep them whole.
 */
export function errorBody(err: ServekitError, exposePaths = isDevelopment()): { error: { code: ErrorCode; message: string; field?: string } } {
  const field = err.details?.['field']
  const message = exposePaths || !SERVER_SIDE.has(statusByCode[err.code]) ? err.message : redactPaths(err.message)
  return { error: typeof field === 'string' ? { code: err.code, message, field } : { code: err.code, message } }
}

const SERVER_SIDE = new Set([422, 500, 503, 504])
/** `NODE_ENV=development` shows paths to the developer; read per error, off the hot path. */
export const isDevelopment = (): boolean => process.env['NODE_ENV'] === 'development'

/** Absolute paths: file URLs, POSIX paths of two or more segments (not inside URLs), Windows drive paths. */
const ABSOLUTE_PATH = /file:\/\/[^\s'"`]+|(?<![\w.~:/-])(?:\/[^\s'"`:,;()[\]{}<>/\\]+){2,}\/?|(?<!\w)[A-Za-z]:\\[^\s'"`,;()]+/g

/** Replaces each absolute path in `text` with `…/<last segment>`: `/srv/app/models/x/1/w.json` -> `…/w.json`. */
export function redactPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, (path) => `…/${path.split(/[\\/]/).filter(Boolean).pop() ?? ''}`)
}

/** Translates Fastify's own errors (parser, validation, limits) into catalogue codes. */
export function toServekitError(err: FastifyError | Error): ServekitError {
  if (isServekitError(err)) return err
  const e = err as FastifyError
  if (e.validation) return validationError(e.validation)
  // Fastify marks errors thrown by the response serializer: an output the model checks missed (a throwing toJSON).
  if ((e as { serialization?: unknown }).serialization !== undefined) {
    return new ServekitError('invalid_output', 'the response could not be serialised as JSON', { cause: err })
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

/** The body's first schema violation (ajv's errors, as Fastify reports them) as `invalid_request` naming the field. */
export function validationError(errors: ReadonlyArray<{ instancePath?: string; keyword?: string; message?: string | undefined; params?: unknown }>): ServekitError {
  const v = errors[0]
  const params = v?.params as Record<string, unknown> | undefined
  const field = fieldOf(v?.instancePath ?? '', params)
  return new ServekitError('invalid_request', `${field}: ${describe(v?.keyword, v?.message, params)}`, { details: { field } })
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

/** An error's response: its status, body and, for `overloaded`, when to come back (seconds). */
export interface ErrorAnswer {
  status: number
  body: ReturnType<typeof errorBody>
  retryAfter: string | undefined
}

/**
 * How every error thrown while answering a request leaves (the Fastify routes' error handler and the
 * /infer fast path alike): translated to a catalogue code, logged when it is the server's fault.
 * `clientGone`: the client closed the connection, so a failure is its own abort.
 */
export function errorAnswer(err: Error, url: string, clientGone: boolean, logger: Logger): ErrorAnswer {
  const error = toServekitError(err)
  const status = statusByCode[error.code]
  // `overloaded` (load shedding) says when to come back.
  const retryAfter = error.details?.['retryAfterSeconds']
  // Shedding is expected back-pressure, counted in the metrics: logging every refusal would add work
  // when there is least room. A client that went away caused its own abort: debug only.
  if (status >= 500 && error.code !== 'overloaded') {
    const log = clientGone ? logger.debug.bind(logger) : logger.error.bind(logger)
    log({ err: error.cause ?? error, code: error.code, url }, error.message)
  }
  // The admin API answers operators holding the token: they get paths, as the logs have them.
  return { status, body: errorBody(error, isDevelopment() || url.startsWith('/admin/')), retryAfter: typeof retryAfter === 'number' ? String(retryAfter) : undefined }
}

/** Installs the error, 404 and 405 handlers: every error leaves as `{"error": {"code", "message"}}`. */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    tagFailedVersion(request, err)
    const answer = errorAnswer(err, request.url, reply.raw.destroyed, logger)
    if (answer.retryAfter !== undefined) void reply.header('retry-after', answer.retryAfter)
    void reply.code(answer.status).send(answer.body)
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

/**
 * Errors below the router, in the servekit shape instead of Fastify's: Node's HTTP parser rejecting
 * a request (bad framing 400, a header block over 16 KiB 431, not received within
 * `server.requestTimeoutMs` 408; the connection is closed after), a URL that cannot be decoded (400)
 * and a path segment over 100 characters (414). All are `invalid_request`; the status is HTTP's.
 */
export const httpLayerErrors = (headers: Readonly<Record<string, string>>) => ({
  clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    if (socket.writable) {
      const [status, message] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'the request was not received in time (server.requestTimeoutMs)']
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'the request line and headers are larger than 16 KiB']
            : [400, `malformed HTTP request (${String(err.code ?? 'parse error')})`]
      const body = JSON.stringify(errorBody(new ServekitError('invalid_request', message)))
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`)
    }
    socket.destroy(err)
  },
  frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
    const [status, message] =
      err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? [414, 'a path segment is longer than 100 characters']
        : [400, err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid (bad percent-encoding)' : 'the request cannot be routed']
    void reply.code(status).headers(headers).send(errorBody(new ServekitError('invalid_request', message)))
  },
})
