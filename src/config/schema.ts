import { availableParallelism } from 'node:os'
import { z } from 'zod'
import type { PredictionSink } from '../observe/sinks/sink.js'

/** Model names and versions become directory names: letters, digits, `_`, `-`, `.`; no `..`. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
export const isSafeName = (s: string): boolean => NAME_PATTERN.test(s) && !s.includes('..')

const NAME_RULE = 'must be 1-128 letters, digits, "_", "-" or "." starting with a letter or digit, without ".."'
const safeName = (what: string) => z.string().refine(isSafeName, { message: `${what} ${NAME_RULE}` })

const toleranceSchema = z.object({ absolute: z.number().nonnegative().optional(), relative: z.number().nonnegative().optional() }).strict()

/** Arm (a version or alias) -> weight; weights are relative and must sum to more than 0. */
export const experimentWeightsSchema = z
  .record(safeName('experiment arm'), z.number().nonnegative())
  .refine((w) => Object.values(w).reduce((a, b) => a + b, 0) > 0, { message: 'experiment weights must sum to more than 0' })

const experimentSchema = z
  .object({
    weights: experimentWeightsSchema,
    /** A feature whose value makes the split sticky (same value, same arm); else the request's `experiment_key`, else random. */
    key: z.string().min(1).max(128).optional(),
  })
  .strict()

const shadowSchema = z
  .object({
    /** Another configured model; default: this model. */
    model: safeName('shadow model').optional(),
    /** A version or alias of that model; default: its default version. */
    version: safeName('shadow version').optional(),
    /** Fraction of requests shadowed, 0 to 1. */
    sampleRate: z.number().min(0).max(1),
    /** How close numbers must be to count as agreeing; default: the model's `tolerance`, else 1e-6. */
    tolerance: toleranceSchema.optional(),
  })
  .strict()
  .refine((t) => t.model !== undefined || t.version !== undefined, { message: 'a shadow target needs a "model" or a "version"' })

/** One model the service serves, keyed by its model id in `models`. */
export const modelConfigSchema = z
  .object({
    /** Module whose default export is the model class (path relative to the config file). */
    module: z.string().min(1).optional(),
    /** A built-in model class instead of a module: `xgboost`, `lightgbm` or `onnx`. */
    framework: z.enum(['xgboost', 'lightgbm', 'onnx']).optional(),
    /**
     * Which versions of `<store>/<id>/` to load: `'latest'` (the highest), a pinned version name,
     * `{ latest: n }` (the n highest, side by side), or a list of version names.
     */
    versions: z
      .union([z.literal('latest'), safeName('version'), z.object({ latest: z.number().int().min(1).max(100) }).strict(), z.array(safeName('version')).min(1)])
      .default('latest'),
    /** The version (or alias) requests get when they name none; default: the highest loaded. */
    default: safeName('default').optional(),
    /** Named pointers to versions, e.g. `{ stable: '3', canary: '4' }`; the store's serving.json may move them. */
    aliases: z.record(z.string(), safeName('alias target')).default({}),
    /** Passed to the model class's `load` as `context.options`. */
    options: z.record(z.string(), z.unknown()).default({}),
    /** What a failing self-test does: `block` keeps the version out of service, `warn` serves it and says so. */
    selfTest: z.enum(['block', 'warn']).default('block'),
    /**
     * Before a new version becomes the default, the serving version's self-test features go through
     * it: `block` refuses a version that rejects them, `warn` logs and swaps anyway.
     */
    compatibility: z.enum(['block', 'warn']).default('block'),
    /** Tolerance for float comparisons in self-tests; overrides the model class's. */
    tolerance: toleranceSchema.optional(),
    // Traffic (src/traffic/, docs/traffic.md).
    /** Longest a prediction may take, queueing included: then 504 `prediction_timeout` and its signal aborts. */
    timeoutMs: z.number().int().positive().max(3_600_000).default(1000),
    /** Predictions running at once per worker, and how many more may wait; beyond, 503 `overloaded`. */
    concurrency: z
      .object({ max: z.number().int().min(1).max(100_000).default(64), queue: z.number().int().min(0).max(1_000_000).default(256) })
      .strict()
      .default({ max: 64, queue: 256 }),
    /** Dynamic batching: concurrent requests grouped into one predictBatch call. */
    batching: z
      .object({ maxBatchSize: z.number().int().min(1).max(10_000).default(32), maxDelayMs: z.number().min(0).max(10_000).default(2) })
      .strict()
      .optional(),
    /** A weighted split across versions (or aliases), e.g. `{ weights: { '3': 90, '4': 10 }, key: 'user_id' }`. */
    experiment: experimentSchema.optional(),
    /** Shadow targets: another version (`{ version }`) or model (`{ model, version? }`), sent a sample of requests after the answer. */
    shadow: z.array(shadowSchema).max(16).default([]),
  })
  .strict()
  .refine((m) => !(m.module && m.framework), { message: 'set either "module" or "framework", not both' })

export const serverConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    host: z.string().min(1).default('0.0.0.0'),
    /** Worker processes; 0 means one per available core. */
    workers: z.number().int().min(0).max(256).default(0),
    /** Largest accepted request body in bytes. */
    bodyLimit: z.number().int().positive().default(1024 * 1024),
    /** Most feature sets in one batch request. */
    maxBatchItems: z.number().int().positive().default(1000),
    /** Time a client has to send a whole request; closes slow (slowloris) connections. */
    requestTimeoutMs: z.number().int().positive().default(10_000),
    /** Time in-flight requests get to finish after SIGTERM before workers are killed. */
    shutdownTimeoutMs: z.number().int().positive().default(25_000),
    /**
     * Time a replacement worker (rolling restart, memory ceiling) has to load every model and
     * listen; past it, it is stopped and the worker it was to replace keeps serving.
     */
    startupTimeoutMs: z.number().int().min(100).default(300_000),
    /**
     * A worker whose event loop sends no heartbeat for this long (a synchronous infinite loop in
     * model code) is killed with SIGKILL and replaced; 0 turns the watchdog off.
     */
    watchdogMs: z.number().int().min(0).refine((ms) => ms === 0 || ms >= 200, { message: 'must be 0 (off) or at least 200' }).default(5_000),
    /** Resident memory ceiling per worker in MiB: above it the worker is replaced gracefully; 0 means none. */
    maxRssMb: z.number().int().min(0).default(0),
  })
  .strict()

const s3StoreSchema = z
  .object({
    type: z.literal('s3'),
    bucket: z.string().min(1),
    prefix: z.string().default(''),
    region: z.string().optional(),
    /** S3-compatible endpoint (MinIO, a local server); AWS otherwise. */
    endpoint: z.string().url().optional(),
    forcePathStyle: z.boolean().optional(),
    /** Where versions are downloaded before loading, relative to the config file. */
    cacheDir: z.string().default('./.servekit-cache'),
  })
  .strict()

export const adminConfigSchema = z
  .object({
    /** Bearer token for /admin/*; also read from SERVEKIT_ADMIN_TOKEN. Without one, the admin API is off. */
    token: z.string().min(16, 'admin token must be at least 16 characters').optional(),
    /** Serve /admin/* on its own port instead of the data-plane port. */
    port: z.number().int().min(0).max(65535).optional(),
    /** Address of the separate admin port. */
    host: z.string().min(1).default('127.0.0.1'),
  })
  .strict()

const sinkSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('jsonl'),
      /** Directory of the files, relative to the config file; each worker writes its own files. */
      dir: z.string().min(1).default('./prediction-logs'),
      /** A file is closed before it would grow past this (bytes). */
      maxBytes: z.number().int().min(1024).default(100 * 1024 * 1024),
      /** A file takes no new events once it is this old. */
      maxAgeMs: z.number().int().positive().default(3_600_000),
      /** Most bytes of prediction files kept in `dir`: the oldest are deleted at each rotation (0: keep everything). */
      maxTotalBytes: z.number().int().min(0).default(1024 * 1024 * 1024),
    })
    .strict(),
  z.object({ type: z.literal('stdout') }).strict(),
  z
    .object({
      type: z.literal('http'),
      /** Receives each batch as a JSON array in a POST; any status but 2xx is a failure. */
      url: z.string().url(),
      timeoutMs: z.number().int().positive().default(5_000),
      headers: z.record(z.string(), z.string()).default({}),
    })
    .strict(),
  z
    .object({
      type: z.literal('redis'),
      url: z.string().url(),
      stream: z.string().min(1).default('servekit:predictions'),
      /** Approximate bound on the stream's length (XADD MAXLEN ~). */
      maxLen: z.number().int().positive().default(1_000_000),
      timeoutMs: z.number().int().positive().default(5_000),
    })
    .strict(),
  z
    .object({
      type: z.literal('custom'),
      /** The `sink` label of its metrics. */
      name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be lower-case letters, digits or "_"').default('custom'),
      sink: z.custom<PredictionSink>(
        (v) => typeof (v as PredictionSink | null)?.write === 'function' && typeof (v as PredictionSink | null)?.close === 'function',
        'must be an object with write(batch) and close() methods',
      ),
    })
    .strict(),
])

const sampleRate = z.number().min(0).max(1)

const predictionLogDefaults = {
  enabled: true,
  sink: { type: 'jsonl' as const, dir: './prediction-logs', maxBytes: 100 * 1024 * 1024, maxAgeMs: 3_600_000, maxTotalBytes: 1024 * 1024 * 1024 },
  sampleRate: 1,
  models: {},
  bufferSize: 10_000,
  maxBatch: 1_000,
  flushIntervalMs: 1_000,
  retries: 3,
}

export const predictionLogConfigSchema = z
  .object({
    /** Send an event per (sampled) prediction to the sink. */
    enabled: z.boolean().default(true),
    sink: sinkSchema.default(predictionLogDefaults.sink),
    /** Share of predictions logged, 0 to 1. */
    sampleRate: sampleRate.default(1),
    /** Per model id: `{ churn: { sampleRate: 0.01 } }`. */
    models: z.record(z.string(), z.object({ sampleRate }).strict()).default({}),
    /** Most events held per worker before new ones are dropped (and counted). */
    bufferSize: z.number().int().positive().default(10_000),
    /** Most events per write to the sink. */
    maxBatch: z.number().int().positive().default(1_000),
    /** Longest an event waits in the buffer when traffic is too light to fill a batch. */
    flushIntervalMs: z.number().int().positive().default(1_000),
    /** Retries of a failed batch before its events count as failed. */
    retries: z.number().int().min(0).max(10).default(3),
  })
  .strict()

export const configSchema = z
  .object({
    /**
     * The model store: a local directory (relative to the config file) holding
     * `<model>/<version>/`, or `{ type: 's3', bucket, prefix }`.
     */
    store: z.union([z.string().min(1), s3StoreSchema]).default('./models'),
    /** How often every worker checks the store for new versions and serving.json changes; 0 turns polling off. */
    pollIntervalMs: z.number().int().min(0).default(10_000),
    admin: adminConfigSchema.default({ host: '127.0.0.1' }),
    /** Stored expectations for `servekit test`, relative to the config file: `<testdata>/<model id>.json`. */
    testdata: z.string().min(1).default('./testdata'),
    models: z.record(z.string(), modelConfigSchema).superRefine((models, ctx) => {
      const ids = Object.keys(models)
      if (ids.length === 0) ctx.addIssue({ code: 'custom', message: 'list at least one model' })
      for (const id of ids) {
        if (!isSafeName(id)) ctx.addIssue({ code: 'custom', path: [id], message: `model id "${id}" ${NAME_RULE}` })
        models[id]?.shadow.forEach((t, i) => {
          if (t.model !== undefined && !(t.model in models)) {
            ctx.addIssue({ code: 'custom', path: [id, 'shadow', i, 'model'], message: `shadow target "${t.model}" is not a model of this service (models: ${ids.join(', ')})` })
          }
          if ((t.model ?? id) === id && t.version === undefined) ctx.addIssue({ code: 'custom', path: [id, 'shadow', i], message: 'a shadow of the model itself needs a "version"' })
        })
      }
    }),
    server: serverConfigSchema.default(serverConfigSchema.parse({})),
    metrics: z
      .object({
        /** Serve Prometheus metrics at GET /metrics and count every request. */
        enabled: z.boolean().default(true),
        /** Include Node.js process metrics (CPU, memory, event loop lag, GC). */
        processMetrics: z.boolean().default(true),
      })
      .strict()
      .default({ enabled: true, processMetrics: true }),
    tracing: z
      .object({
        /** OpenTelemetry spans per request, exported over OTLP/HTTP (configured by the OTEL_* environment variables). */
        enabled: z.boolean().default(false),
        /** `service.name` of the spans, unless OTEL_SERVICE_NAME is set. */
        serviceName: z.string().min(1).default('servekit'),
      })
      .strict()
      .default({ enabled: false, serviceName: 'servekit' }),
    monitoring: z
      .object({
        /** Track numeric features and outputs per version and compare them with the version's training_stats. */
        enabled: z.boolean().default(true),
        /** Fraction of predictions recorded (0 to 1). */
        sampleRate: z.number().min(0).max(1).default(1),
        /**
         * Most predictions recorded per second per model version in each worker (0: no limit). Above
         * it, a random share is recorded (limit / the last second's rate): plenty for the statistics,
         * and the cost stays bounded on busy models.
         */
        maxPerSecond: z.number().int().min(0).default(200),
        /** PSI above which a feature counts as drifted (logged, and flagged on GET /models/:id/monitoring). */
        threshold: z.number().positive().default(0.25),
        /** Numeric values a feature needs before its PSI is computed: with fewer, sampling noise dominates. */
        minCount: z.number().int().min(1).default(100),
        /** How often PSI is checked against the threshold for the warning log. */
        intervalMs: z.number().int().min(100).default(60_000),
      })
      .strict()
      .default({ enabled: true, sampleRate: 1, maxPerSecond: 200, threshold: 0.25, minCount: 100, intervalMs: 60_000 }),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Human-readable logs (for development); JSON lines otherwise. */
        pretty: z.boolean().default(false),
        /** Fraction of inference requests written to the access log (0 turns it off, 1 logs every request). */
        accessLogSampleRate: z.number().min(0).max(1).default(1),
      })
      .strict()
      .default({ level: 'info', pretty: false, accessLogSampleRate: 1 }),
    /** An analytics event per prediction (sampled), sent in batches to a sink: JSONL files by default. */
    predictionLog: predictionLogConfigSchema.default(predictionLogDefaults),
  })
  .strict()
  .superRefine((c, ctx) => {
    // A misspelt model id would silently keep the default rate.
    for (const id of Object.keys(c.predictionLog.models)) {
      if (!(id in c.models)) ctx.addIssue({ code: 'custom', path: ['predictionLog', 'models', id], message: `"${id}" is not a model of this service (models: ${Object.keys(c.models).join(', ')})` })
    }
  })

/** What a user writes in `servekit.config.ts` (defaults may be left out). */
export type ServiceConfigInput = z.input<typeof configSchema>
/** The validated config with every default filled in. */
export type ServiceConfig = z.output<typeof configSchema>
export type ModelConfig = z.output<typeof modelConfigSchema>
export type ServerConfig = z.output<typeof serverConfigSchema>
export type AdminConfig = z.output<typeof adminConfigSchema>
export type S3StoreConfig = z.output<typeof s3StoreSchema>
export type PredictionLogConfig = z.output<typeof predictionLogConfigSchema>

/** Worker count after resolving `0` to the number of cores. */
export const resolveWorkers = (n: number): number => (n > 0 ? n : availableParallelism())

/**
 * Defines a service config with checked types.
 *
 * @example
 * export default defineConfig({
 *   models: { churn: { module: './src/models/churn.ts' } },
 *   server: { port: 8080 },
 * })
 */
export function defineConfig(config: ServiceConfigInput): ServiceConfigInput {
  return config
}
