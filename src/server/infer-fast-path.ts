import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { ValidateFunction } from 'ajv'
import type { PredictFn, PredictResult } from '../model/predictor.js'
import type { Logger } from '../observe/logger.js'
import { errorAnswer, validationError } from './error-handler.js'
import { pickRequestId } from './request-id.js'
import { REQUEST_ID, tagFailedVersion, tagRequestId, tagVersion, VERSION, type ObservedRequest, type ResponseObserver } from './request-metrics.js'
import { disconnectSignal, watchAbandoned, type Abandoned, type InferBody } from './routes/infer.js'
import { SECURITY_HEADERS } from './security-headers.js'

/**
 * `POST /infer` on node:http, in front of Fastify, for the requests nearly every client sends: a
 * JSON body (`content-type: application/json`, optionally `; charset=utf-8`) of a declared length
 * within the body limit. Every other request, /infer ones included (another media type, a chunked
 * body, an empty or too large one, a query string), goes to Fastify's route, which answers it.
 *
 * Why: on the 2-core bench machine Fastify alone, with servekit's schemas and headers, keeps only
 * 0.72-0.76 of a bare node:http server's throughput (docs/performance.md), below the target for the
 * whole service. This path does the route's work and nothing else, with the same parts: Fastify's
 * own JSON parser (`getDefaultJsonParser`, its prototype-poisoning checks and errors), the same
 * ajv compiler and body schema, the same handler steps (routes/infer.ts), the same error answers
 * (`errorAnswer`) and the same response observers (metrics, access log, 499s). Its answers are
 * byte-for-byte those of the route, but for header order: test/http/infer-fast-path.test.ts sends
 * every case both ways and compares. With tracing on, every request goes to Fastify (its spans
 * start in Fastify hooks). Fastify's hooks do not run here: the app's one global hook (the security
 * headers) is repeated in FIXED_HEADERS, and a hook added to the app for /infer must be added here too.
 */
export interface InferFastPathDeps {
  predict: PredictFn
  /** Requests with a longer body go to Fastify, which refuses them (413). */
  bodyLimit: number
  /** Parses a body's text, or throws the error Fastify's parser would give the route. */
  parseJson: (text: string) => unknown
  /** The route's body schema, compiled as Fastify compiles it. */
  validate: ValidateFunction
  /** Keep each body's text for the data plane (PredictRequest.bodyJson): when the prediction log is on. */
  keepBodyJson: boolean
  logger: Logger
  /** Told after each response was written (metrics, access log), unless the request was reported abandoned. */
  observe?: ResponseObserver | undefined
  /** Told about a request whose client went away before its pending answer. */
  abandoned?: Abandoned | undefined
  /** True once the server drains: answers then close their connection (Fastify's `closing`). */
  draining: () => boolean
}

/** Answers the request if it is one the fast path takes (returns true); returns false to leave it to Fastify. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean

const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8'])
const PATH = '/infer'
const EXCHANGE = Symbol('servekit.exchange')
type Carrier = IncomingMessage & { [EXCHANGE]?: Exchange }

/** The response headers every answer of the path sends, as writeHead takes them (name, value, ...). */
const FIXED_HEADERS = ['content-type', 'application/json; charset=utf-8', ...Object.entries(SECURITY_HEADERS).flat()]

export function inferFastPath(deps: InferFastPathDeps): FastPath {
  const { bodyLimit } = deps
  return function take(req, res) {
    if (req.url !== PATH || req.method !== 'POST' || req.headers['transfer-encoding'] !== undefined) return false
    const type = req.headers['content-type']
    if (type === undefined || !JSON_TYPES.has(type)) return false
    const length = Number(req.headers['content-length'])
    if (!(length >= 1 && length <= bodyLimit)) return false
    ;(req as Carrier)[EXCHANGE] = new Exchange(req, res, deps)
    req.on('data', onData)
    req.on('end', onEnd)
    return true
  }
}

// Shared listeners, no closure per request: `this` is the request, which carries its exchange.
function onData(this: Carrier, chunk: Buffer): void {
  this[EXCHANGE]!.chunks.push(chunk)
}

function onEnd(this: Carrier): void {
  const x = this[EXCHANGE]!
  this[EXCHANGE] = undefined
  x.received()
}

/** One request on the fast path: what the observers read of it (ObservedRequest), and its steps. */
class Exchange implements ObservedRequest {
  // Every field set here, the tags included: each exchange keeps the shape it was created with.
  body: unknown = undefined;
  [VERSION]: string | undefined = undefined;
  [REQUEST_ID]: string | undefined = undefined
  readonly chunks: Buffer[] = []
  private readonly start = performance.now()
  private reported = false

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly deps: InferFastPathDeps,
  ) {}

  /** The whole body arrived: parse, validate, predict, answer (the route's steps, routes/infer.ts). */
  received(): void {
    try {
      this.run()
    } catch (err) {
      this.crashed(err)
    }
  }

  /**
   * A throw the steps did not expect (an observer's, say): it must not escape into the request's
   * 'end' event, where it would end the process. Answered with 500 when nothing was sent yet.
   */
  private crashed(err: unknown): void {
    if (this.res.headersSent) {
      this.deps.logger.error({ err }, 'POST /infer: failed after its response was sent')
      return
    }
    try {
      this.fail(err)
    } catch (again) {
      this.deps.logger.error({ err: again }, 'POST /infer: no error response could be sent')
      this.res.destroy()
    }
  }

  private run(): void {
    const { deps, chunks } = this
    const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')
    try {
      this.body = deps.parseJson(text)
    } catch (err) {
      this.fail(err)
      return
    }
    const body = this.body as InferBody
    if (!deps.validate(body)) {
      this.fail(validationError(deps.validate.errors ?? []))
      return
    }
    const requestId = pickRequestId(body.request_id, this.req.headers['x-request-id'])
    tagRequestId(this, requestId)
    const req = {
      modelId: body.model_id,
      modelVersion: body.model_version,
      features: body.features,
      requestId,
      parameters: body.parameters,
      experimentKey: body.experiment_key,
      bodyJson: deps.keepBodyJson ? text : undefined,
    }
    let result: ReturnType<PredictFn>
    try {
      result = deps.predict(req, disconnectSignal(this.res))
    } catch (err) {
      this.fail(err)
      return
    }
    if (!(result instanceof Promise)) {
      this.answer(result)
      return
    }
    const answered = result
      .then(
        (r) => this.answer(r),
        (err: unknown) => this.fail(err),
      )
      .catch((err: unknown) => this.crashed(err))
    const abandoned = deps.abandoned
    if (abandoned) {
      watchAbandoned(this, this.res, answered, () => performance.now() - this.start, (request, res, elapsedMs) => {
        if (this.reported) return
        this.reported = true
        abandoned(request, res, elapsedMs)
      })
    }
  }

  private answer(result: PredictResult): void {
    tagVersion(this, result.modelVersion)
    let json: string
    try {
      // The key order of the route's response schema; `arm` left out when no experiment chose the version.
      json = JSON.stringify({ output: result.output, model_id: result.modelId, model_version: result.modelVersion, request_id: this[REQUEST_ID], arm: result.arm ?? undefined })
    } catch (err) {
      // What Fastify reports for a response its serializer could not write (error-handler.ts).
      this.fail(Object.assign(new Error('serialization failed', { cause: err }), { serialization: true }))
      return
    }
    this.send(200, json, undefined)
  }

  private fail(err: unknown): void {
    tagFailedVersion(this, err)
    const e = err instanceof Error ? err : new Error(String(err))
    const answer = errorAnswer(e, PATH, this.res.destroyed, this.deps.logger)
    this.send(answer.status, JSON.stringify(answer.body), answer.retryAfter)
  }

  private send(status: number, json: string, retryAfter: string | undefined): void {
    const res = this.res
    // A client gone before a pending answer was reported abandoned (499) by the watch.
    if (res.destroyed) return
    const headers: string[] = [...FIXED_HEADERS, 'content-length', String(Buffer.byteLength(json))]
    const requestId = this[REQUEST_ID]
    if (requestId !== undefined) headers.push('x-request-id', requestId)
    if (retryAfter !== undefined) headers.push('retry-after', retryAfter)
    if (this.deps.draining()) headers.push('connection', 'close')
    res.writeHead(status, headers)
    res.end(json)
    // end() hands the bytes to the socket in this turn (Node uncorks on end): observers run after.
    const observe = this.deps.observe
    if (observe && !this.reported) {
      this.reported = true
      observe(this, status, performance.now() - this.start)
    }
  }
}
