import type { FastifyInstance } from 'fastify'
import type { LoadedConfig } from './config/load-config.js'
import { createPredictor, type Predict, type PredictBatch } from './model/predictor.js'
import { ModelRegistry } from './model/registry.js'
import type { Logger } from './observe/logger.js'
import { buildAdminApp, buildApp } from './server/app.js'
import { createStore } from './store/create-store.js'
import { Metrics } from './observe/metrics.js'
import { metricsObservers } from './observe/wire-metrics.js'
import type { PredictionListener } from './observe/prediction-event.js'

/** One serving process: registry, data plane and HTTP apps, wired from a config. */
export interface Service {
  readonly app: FastifyInstance
  /** The management API on its own port, when `admin.port` is set. */
  readonly adminApp: FastifyInstance | undefined
  readonly registry: ModelRegistry
  /** Undefined when `metrics.enabled` is false. */
  readonly metrics: Metrics | undefined
  readonly predict: Predict
  readonly predictBatch: PredictBatch
  /** Loads every configured model (failures are recorded per model, never thrown). */
  load(): Promise<void>
  /** Checks the store every `pollIntervalMs` for new versions and serving-state changes. */
  startPolling(): void
  /** Stops polling and accepting, lets in-flight requests finish, then unloads the models. */
  close(): Promise<void>
}

export interface ServiceOptions {
  logger: Logger
  /** Called after an admin change to a model, so other processes reconcile it too. */
  notify?: (modelId: string) => void
  /** How GET /metrics gathers the text; default: this process's registry (cluster workers ask the primary). */
  scrape?: (local: Metrics) => Promise<{ text: string; contentType: string }>
}

/** Composition root: the only place that decides which implementation backs each part. */
export function createService(loaded: LoadedConfig, options: ServiceOptions): Service {
  const { config } = loaded
  const { logger } = options
  const metrics = config.metrics.enabled ? new Metrics(Object.keys(config.models), { processMetrics: config.metrics.processMetrics }) : undefined
  const observers = metrics ? metricsObservers(metrics) : undefined
  const registry = new ModelRegistry({ models: config.models, store: createStore(loaded), baseDir: loaded.dir, logger, events: observers?.registry })
  const { predict, predictBatch } = createPredictor(registry, observers?.predictor)
  /** Observers of each prediction (prediction log, drift monitoring); the traffic layer feeds them. */
  const listeners: PredictionListener[] = []
  const scrape = options.scrape ?? (async (m: Metrics) => ({ text: await m.registry.metrics(), contentType: m.registry.contentType }))
  const token = config.admin.token ?? (process.env['SERVEKIT_ADMIN_TOKEN'] || undefined)
  const deps = {
    predict,
    predictBatch,
    registry,
    logger,
    server: config.server,
    admin: { token, notify: options.notify ?? (() => {}), separate: config.admin.port !== undefined },
    metrics: metrics ? { metrics, scrape: () => scrape(metrics) } : undefined,
  }
  const app = buildApp(deps)
  const adminApp = config.admin.port !== undefined ? buildAdminApp(deps) : undefined
  let timer: NodeJS.Timeout | undefined
  return {
    app,
    adminApp,
    registry,
    metrics,
    predict,
    predictBatch,
    load: () => registry.loadAll(),
    startPolling() {
      if (config.pollIntervalMs === 0 || timer) return
      // A poll that overlaps the next simply queues behind it in the registry.
      timer = setInterval(() => void registry.reconcileAll(), config.pollIntervalMs)
      timer.unref()
    },
    async close() {
      if (timer) clearInterval(timer)
      // server.close() only drops connections idle at that moment; a keep-alive connection whose
      // request finishes later would hold the process open, so keep closing idle ones while draining.
      const sweep = setInterval(() => {
        app.server.closeIdleConnections()
        adminApp?.server.closeIdleConnections()
      }, 50)
      try {
        await Promise.all([app.close(), adminApp?.close()])
      } finally {
        clearInterval(sweep)
      }
      // Every accepted request has answered: flush what observers queued, then free the models.
      await Promise.all(listeners.map((l) => l.close()))
      await registry.unloadAll()
    },
  }
}
