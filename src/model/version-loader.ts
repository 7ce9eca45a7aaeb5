import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isServekitError, ServekitError } from '../errors.js'
import { importDefault } from '../config/import-module.js'
import type { ModelConfig } from '../config/schema.js'
import { loadFramework } from '../frameworks/index.js'
import type { Logger } from '../observe/logger.js'
import type { ModelStore } from '../store/model-store.js'
import { DEFAULT_TOLERANCE } from './compare.js'
import type { AnyModelClass, Artifact } from './interface.js'
import { runSelfTest, type SelfTestReport } from './self-test.js'
import { createVersionPredict, type VersionPredict, type VersionPredictBatch } from './version-predict.js'

/** One model version in memory, ready to predict. */
export interface LoadedVersion {
  readonly modelId: string
  readonly version: string
  readonly artifact: Artifact
  readonly modelClass: AnyModelClass
  readonly instance: unknown
  readonly predict: VersionPredict
  readonly predictBatch: VersionPredictBatch
  readonly loadedAt: Date
  readonly loadMs: number
  readonly selfTest: SelfTestReport
  /** Requests running on this version now; it is unloaded only once this is back to 0. */
  inflight: number
}

export interface LoaderOptions {
  store: ModelStore
  /** Directory that `module` paths are relative to (the config file's). */
  baseDir: string
}

/**
 * Opens a version's artifact, imports its model class, loads it and runs its self-test. Throws
 * `model_load_failed` (or `self_test_failed` under policy `block`) with a message naming the version.
 */
export async function loadVersion(id: string, config: ModelConfig, version: string, options: LoaderOptions, log: Logger): Promise<LoadedVersion> {
  const label = `${id}@${version}`
  const started = performance.now()
  const artifact = await options.store.open({ name: id, version })
  const modelClass = await resolveModelClass(id, config, artifact, options.baseDir)
  let instance: unknown
  try {
    instance = await modelClass.load(artifact, { options: config.options })
  } catch (err) {
    if (isServekitError(err) && err.code === 'model_load_failed') throw err
    throw new ServekitError('model_load_failed', `${label}: load threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  const loadMs = performance.now() - started
  const { predict, predictBatch } = createVersionPredict(label, modelClass, instance, version)
  const tolerance = config.tolerance ?? modelClass.tolerance ?? DEFAULT_TOLERANCE
  const selfTest = await runSelfTest(modelClass, artifact, instance, predict, tolerance)
  const loaded: LoadedVersion = { modelId: id, version, artifact, modelClass, instance, predict, predictBatch, loadedAt: new Date(), loadMs, selfTest, inflight: 0 }
  if (selfTest.status === 'failed') {
    const summary = `self-test failed: ${selfTest.failed} of ${selfTest.cases} cases (${selfTest.failures.map((f) => `${f.name}: ${f.reason}`).join('; ')})`
    if (config.selfTest === 'block') {
      await unloadVersion(loaded, log)
      throw new ServekitError('self_test_failed', `${label} ${summary}`)
    }
    log.warn({ model_version: version, self_test: selfTest }, `${label} ${summary}; serving it anyway (selfTest: warn)`)
  }
  return loaded
}

async function resolveModelClass(id: string, config: ModelConfig, artifact: Artifact, baseDir: string): Promise<AnyModelClass> {
  if (config.module !== undefined) return importModelClass(resolve(baseDir, config.module))
  const name = config.framework ?? artifact.manifest.framework
  if (name === undefined) {
    throw new ServekitError('model_load_failed', `${id}: no model class: set "module" or "framework" in the config, or "framework" in ${artifact.dir}/model.json`)
  }
  return loadFramework(name)
}

/** Imports a model class module and checks its default export has `load` and `predict`. */
export async function importModelClass(file: string): Promise<AnyModelClass> {
  let exported: unknown
  try {
    exported = await importDefault(pathToFileURL(file).href)
  } catch (err) {
    throw new ServekitError('model_load_failed', `cannot import model class ${file}: ${(err as Error).message}`, { cause: err })
  }
  const m = exported as Partial<AnyModelClass> | undefined
  if (m === null || typeof m !== 'object' || typeof m.load !== 'function' || typeof m.predict !== 'function') {
    throw new ServekitError('model_load_failed', `${file} must default-export a model class (export default defineModel({ load, predict }))`)
  }
  return m as AnyModelClass
}

/** Calls the class's `unload`; a throw is logged, never propagated (the version is gone either way). */
export async function unloadVersion(v: LoadedVersion, log: Logger): Promise<void> {
  try {
    await v.modelClass.unload?.(v.instance)
  } catch (err) {
    log.warn({ err, model_id: v.modelId, model_version: v.version }, 'unload threw')
  }
}

/** Resolves once no request runs on `v` (or after `timeoutMs`, so a stuck request cannot pin memory forever). */
export async function drain(v: LoadedVersion, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (v.inflight > 0) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 10))
  }
  return true
}
