import type { FastifyInstance } from 'fastify'
import type { LoadedConfig } from './config/load-config.js'
import { createPredictor, type Predict, type PredictBatch } from './model/predictor.js'
import { ModelRegistry } from './model/registry.js'
import type { Logger } from './observe/logger.js'
import { buildApp } from './server/app.js'
import { FsModelStore } from './store/fs-model-store.js'

/** One serving process: registry, data plane and HTTP app, wired from a config. */
export interface Service {
  readonly app: FastifyInstance
  readonly registry: ModelRegistry
  readonly predict: Predict
  readonly predictBatch: PredictBatch
  /** Loads every configured model (failures are recorded per model, never thrown). */
  load(): Promise<void>
  /** Stops accepting, lets in-flight requests finish, then unloads the models. */
  close(): Promise<void>
}

/** Composition root: the only place that decides which implementation backs each part. */
export function createService(loaded: LoadedConfig, logger: Logger): Service {
  const { config } = loaded
  const registry = new ModelRegistry({ models: config.models, store: new FsModelStore(loaded.storeDir), baseDir: loaded.dir, logger })
  const { predict, predictBatch } = createPredictor(registry)
  const app = buildApp({ predict, predictBatch, registry, logger, server: config.server })
  return {
    app,
    registry,
    predict,
    predictBatch,
    load: () => registry.loadAll(),
    async close() {
      // server.close() only drops connections idle at that moment; a keep-alive connection whose
      // request finishes later would hold the process open, so keep closing idle ones while draining.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50)
      try {
        await app.close()
      } finally {
        clearInterval(sweep)
      }
      await registry.unloadAll()
    },
  }
}
