import { availableParallelism } from 'node:os'
import { z } from 'zod'

/** Model names and versions become directory names: letters, digits, `_`, `-`, `.`; no `..`. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
export const isSafeName = (s: string): boolean => NAME_PATTERN.test(s) && !s.includes('..')

const NAME_RULE = 'must be 1-128 letters, digits, "_", "-" or "." starting with a letter or digit, without ".."'
const safeName = (what: string) => z.string().refine(isSafeName, { message: `${what} ${NAME_RULE}` })

const toleranceSchema = z.object({ absolute: z.number().nonnegative().optional(), relative: z.number().nonnegative().optional() }).strict()

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
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Human-readable logs (for development); JSON lines otherwise. */
        pretty: z.boolean().default(false),
      })
      .strict()
      .default({ level: 'info', pretty: false }),
  })
  .strict()

/** What a user writes in `servekit.config.ts` (defaults may be left out). */
export type ServiceConfigInput = z.input<typeof configSchema>
/** The validated config with every default filled in. */
export type ServiceConfig = z.output<typeof configSchema>
export type ModelConfig = z.output<typeof modelConfigSchema>
export type ServerConfig = z.output<typeof serverConfigSchema>
export type AdminConfig = z.output<typeof adminConfigSchema>
export type S3StoreConfig = z.output<typeof s3StoreSchema>

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
