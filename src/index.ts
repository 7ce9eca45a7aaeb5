/**
 * servekit: model serving as a library. Write a model class (`load`, `predict`, `testData`), list it
 * in `servekit.config.ts`, and run `servekit serve`.
 *
 * @example
 * import { defineModel } from 'servekit'
 * export default defineModel({
 *   async load(artifact) { return artifact.readJson<{ w: number }>('weights.json') },
 *   predict(model, features: { x: number }) { return model.w * features.x },
 * })
 */
export { defineModel } from './model/interface.js'
export type { AnyModelClass, Artifact, LoadContext, ModelClass, PredictContext, TestCase, Tolerance } from './model/interface.js'
export { defineConfig } from './config/schema.js'
export type { AdminConfig, ModelConfig, ServerConfig, ServiceConfig, ServiceConfigInput } from './config/schema.js'
export { loadConfig } from './config/load-config.js'
export type { LoadedConfig } from './config/load-config.js'
export { createServer } from './create-server.js'
export type { CreateServerOptions, Server } from './create-server.js'
export type { Service } from './service.js'
export type { Predict, PredictBatch, PredictRequest, PredictResult } from './model/predictor.js'
export type { Manifest } from './store/manifest.js'
export type { ModelRef, ModelStore, ServingState } from './store/model-store.js'
export type { PredictionEvent, PredictionListener, ShadowRecord } from './observe/prediction-event.js'
export type { PredictionSink } from './observe/sinks/sink.js'
export { ServekitError, errorCodes, isServekitError } from './errors.js'
export type { ErrorCode } from './errors.js'
export { createLogger } from './observe/logger.js'
export type { Logger } from './observe/logger.js'
