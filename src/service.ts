import type { FastifyInstance } from 'fastify'
import type { LoadedConfig } from './config/load-config.js'
import { createPredictor, type Predict, type PredictBatch } from './model/predictor.js'
import { toPromise } from './model/maybe-promise.js'
import { ModelRegistry } from './model/registry.js'
import type { Logger } from './observe/logger.js'
import { buildAdminApp, buildApp } from './server/app.js'
import { createStore } from './store/create-store.js'
import { trackConnections } from './server/connection-drainer.js'
import { buildTraffic } from './traffic/compose.js'
import { ExperimentTable } from './traffic/experiments.js'
import { Metrics } from './observe/metrics.js'
import { metricsObservers } from './observe/wire-metrics.js'
import type { PredictionListener } from './observe/prediction-event.js'
import { createPredictionLog } from './observe/prediction-log.js'
import type { Tracing } from './observe/tracing.js'
import { createAccessLog } from './observe/access-log.js'
import { createMonitoring } from './observe/monitoring/service-monitoring.js'
import type { DriftMonitor } from './observe/monitoring/drift-monitor.js'
import type { GatheredSnapshots, SnapshotQuery } from './observe/monitoring/snapshot.js'

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
  /** Drift monitoring's listener (its state answers the primary's collects); undefined when `monitoring.enabled` is false. */
  readonly monitor: DriftMonitor | undefined
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
  /** Started by the caller when `tracing.enabled` (see startTracing), since starting it is async. */
  tracing?: Tracing | undefined
  /** How GET /models/:id/monitoring gathers every process's state; default: this process alone, which then also owns the drift gauge and warnings. */
  gatherMonitoring?: ((query: SnapshotQuery) => Promise<GatheredSnapshots>) | undefined
}

/** Composition root: the only place that decides which implementation backs each part. */
export function createService(loaded: LoadedConfig, options: ServiceOptions): Service {
  const { config } = loaded
  const { logger } = options
  const metrics = config.metrics.enabled ? new Metrics(Object.keys(config.models), { processMetrics: config.metrics.processMetrics }) : undefined
  const observers = metrics ? metricsObservers(metrics) : undefined
  if (metrics) {
    metrics.inFlightSource = () => {
      let n = 0
      for (const entry of registry.list()) for (const v of entry.loaded.values()) n += v.inflight
      return n
    }
  }
  // Experiment weights live in config and serving.json: the table sees what each reconcile read.
  const experiments = new ExperimentTable(config.models, logger)
  const registry = new ModelRegistry({ models: config.models, store: experiments.observe(createStore(loaded)), baseDir: loaded.dir, logger, events: experiments.events(observers?.registry) })
  const { tracing } = options
  const { predict, predictBatch } = createPredictor(registry, { ...observers?.predictor, ...(tracing ? { span: tracing.child.bind(tracing) } : {}) })
  /** Observers of each prediction (prediction log, drift monitoring); the traffic layer feeds them. */
  const listeners: PredictionListener[] = []
  const predictionLog = createPredictionLog(config.predictionLog, { baseDir: loaded.dir, logger, metrics })
  if (predictionLog) listeners.push(predictionLog)
  const lookup = (id: string, version: string) => {
    const v = registry.get(id)?.loaded.get(version)
    return v && { reference: v.artifact.manifest.training_stats }
  }
  const monitoring = config.monitoring.enabled ? createMonitoring(config.monitoring, { lookup, logger, registry: metrics?.registry, gather: options.gatherMonitoring }) : undefined
  if (monitoring) listeners.push(monitoring.monitor)
  const { accessLogSampleRate, pretty } = config.logging
  const access = accessLogSampleRate > 0 && config.logging.level !== 'silent' ? createAccessLog({ pretty }) : undefined
  // The request router (timeouts, shedding, experiments, batching, shadows) between HTTP and the models.
  const traffic = buildTraffic({ registry, models: config.models, predict, predictBatch, experiments, listeners, logger, hooks: observers && { ...observers.predictor, ...observers.traffic } })
  const scrape = options.scrape ?? (async (m: Metrics) => ({ text: await m.registry.metrics(), contentType: m.registry.contentType }))
  const token = config.admin.token ?? (process.env['SERVEKIT_ADMIN_TOKEN'] || undefined)
  const deps = {
    predict: traffic.predict,
    predictBatch: traffic.predictBatch,
    registry,
    logger,
    server: config.server,
    admin: { token, notify: options.notify ?? (() => {}), separate: config.admin.port !== undefined },
    metrics: metrics ? { metrics, scrape: () => scrape(metrics) } : undefined,
    tracing,
    accessLog: access ? { log: access, sampleRate: accessLogSampleRate } : undefined,
    monitoring,
    keepBodyJson: predictionLog !== undefined,
  }
  const app = buildApp(deps)
  const adminApp = config.admin.port !== undefined ? buildAdminApp(deps) : undefined
  let timer: NodeJS.Timeout | undefined
  const connections = [trackConnections(app.server), ...(adminApp ? [trackConnections(adminApp.server)] : [])]
  return {
    app,
    adminApp,
    registry,
    metrics,
    // The public call keeps its promise (a synchronous throw would surprise a caller's `.then`).
    predict: (req, signal) => toPromise(() => traffic.predict(req, signal)),
    predictBatch: traffic.predictBatch,
    monitor: monitoring?.monitor,
    load: () => registry.loadAll(),
    startPolling() {
      if (config.pollIntervalMs === 0 || timer) return
      // A poll that overlaps the next simply queues behind it in the registry.
      timer = setInterval(() => void registry.reconcileAll(), config.pollIntervalMs)
      timer.unref()
    },
    async close() {
      if (timer) clearInterval(timer)
      monitoring?.close()
      // Keep closing connections without a request in flight while the servers drain.
      const sweep = setInterval(() => {
        for (const c of connections) c.sweep()
      }, 50)
      try {
        await Promise.all([app.close(), adminApp?.close()])
      } finally {
        clearInterval(sweep)
      }
      // Every accepted request has answered: let shadows finish (they record events), flush what
      // observers queued, then free the models.
      await traffic.close()
      await Promise.all(listeners.map((l) => l.close()))
      await tracing?.shutdown()
      await access?.close()
      await registry.unloadAll()
    },
  }
}
