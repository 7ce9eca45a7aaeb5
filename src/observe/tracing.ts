import type { IncomingHttpHeaders } from 'node:http'
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api'

/** A request's server span and the context its children start in. */
export interface RequestTrace {
  readonly ctx: Context
  readonly span: Span
  /** The W3C `traceparent` of the server span, for the response header. */
  readonly traceparent: string
}

/**
 * OpenTelemetry tracing, present only when `tracing.enabled`: with tracing off servekit never calls
 * the OpenTelemetry API on the request path and never loads an SDK or exporter.
 */
export interface Tracing {
  /** Starts the server span, continuing the caller's trace from its `traceparent` header. */
  startRequest(name: string, headers: IncomingHttpHeaders, attributes: Record<string, string>): RequestTrace
  endRequest(t: RequestTrace, status: number, attributes: Record<string, string>): void
  /** Runs `fn` in a child span of the active context (a request's). */
  child<T>(name: string, attributes: Record<string, string>, fn: () => T | Promise<T>): Promise<T>
  /** Runs `fn` with `t` as the active context, so spans started inside are its children. */
  within<T>(t: RequestTrace, fn: () => T): T
  /** Flushes buffered spans to the exporter (graceful shutdown). */
  shutdown(): Promise<void>
}

const headerGetter = {
  get: (carrier: IncomingHttpHeaders, key: string) => carrier[key],
  keys: (carrier: IncomingHttpHeaders) => Object.keys(carrier),
}

/**
 * Starts the OpenTelemetry SDK with an OTLP/HTTP exporter configured by the standard environment
 * variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, …). The SDK packages are optional peer dependencies,
 * imported here only.
 */
export async function startTracing(serviceName: string): Promise<Tracing> {
  let sdk: typeof import('@opentelemetry/sdk-trace-node')
  let exporterPkg: typeof import('@opentelemetry/exporter-trace-otlp-http')
  let resources: typeof import('@opentelemetry/resources')
  try {
    ;[sdk, exporterPkg, resources] = await Promise.all([import('@opentelemetry/sdk-trace-node'), import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources')])
  } catch (err) {
    throw new Error(
      `tracing is enabled but the OpenTelemetry SDK is not installed: npm install @opentelemetry/sdk-trace-node @opentelemetry/exporter-trace-otlp-http @opentelemetry/resources (${(err as Error).message})`,
      { cause: err },
    )
  }
  const provider = new sdk.NodeTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': process.env['OTEL_SERVICE_NAME'] ?? serviceName }),
    spanProcessors: [new sdk.BatchSpanProcessor(new exporterPkg.OTLPTraceExporter())],
  })
  // Installs the global tracer provider, the AsyncLocalStorage context manager and the W3C propagator.
  provider.register()
  const tracer: Tracer = trace.getTracer('servekit')

  return {
    startRequest(name, headers, attributes) {
      const parent = propagation.extract(context.active(), headers, headerGetter)
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent)
      const ctx = trace.setSpan(parent, span)
      const sc = span.spanContext()
      return { ctx, span, traceparent: `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}` }
    },
    endRequest(t, status, attributes) {
      t.span.setAttributes({ ...attributes, 'http.response.status_code': status })
      if (status >= 500) t.span.setStatus({ code: SpanStatusCode.ERROR })
      t.span.end()
    },
    child(name, attributes, fn) {
      return tracer.startActiveSpan(name, { attributes }, async (span) => {
        try {
          return await fn()
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) })
          throw err
        } finally {
          span.end()
        }
      })
    },
    within(t, fn) {
      return context.with(t.ctx, fn)
    },
    shutdown: () => provider.shutdown(),
  }
}
