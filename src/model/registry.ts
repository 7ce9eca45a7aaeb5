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
}

export type ModelStatus = 'loading' | 'ready' | 'failed'

/** A configured model id and the versions loaded for it. */
export interface ModelEntry {
  readonly id: string
  readonly config: ModelConfig
  status: ModelStatus
  /** The version requests get. Swapped by assignment, so a lookup never sees a half-loaded version. */
  serving: LoadedVersion | undefined
  /** Why the last load failed, shown on `GET /models` and in `not_ready` errors. */
  error: string | undefined
}

export interface RegistryOptions {
  models: Record<string, ModelConfig>
  store: ModelStore
  /** Directory that `module` paths are relative to (the config file's). */
  baseDir: string
  logger: Logger
}

/**
 * Holds model id -> loaded version. Lookups are one Map get; loading happens off the request path.
 */
export class ModelRegistry {
  private readonly entries = new Map<string, ModelEntry>()
  /** Sorted ids, computed once for error messages. */
  readonly ids: readonly string[]

  constructor(private readonly options: RegistryOptions) {
    for (const [id, config] of Object.entries(options.models)) {
      this.entries.set(id, { id, config, status: 'loading', serving: undefined, error: undefined })
    }
    this.ids = [...this.entries.keys()].sort()
  }

  get(id: string): ModelEntry | undefined {
    return this.entries.get(id)
  }

  list(): ModelEntry[] {
    return this.ids.map((id) => this.entries.get(id) as ModelEntry)
  }

  /** True when every configured model has a serving version. */
  isReady(): boolean {
    for (const entry of this.entries.values()) if (entry.serving === undefined) return false
    return true
  }

  /** Loads every configured model. A model that fails is marked failed; the others still load. */
  async loadAll(): Promise<void> {
    await Promise.all(this.list().map((entry) => this.loadEntry(entry)))
  }

  /** Unloads every serving version (shutdown). */
  async unloadAll(): Promise<void> {
    await Promise.all(
      this.list().map(async (entry) => {
        const v = entry.serving
        entry.serving = undefined
        if (v) await unloadVersion(v, this.options.logger)
      }),
    )
  }

  private async loadEntry(entry: ModelEntry): Promise<void> {
    const log = this.options.logger.child({ model_id: entry.id })
    try {
      const version = await this.resolveVersion(entry)
      const loaded = await this.loadVersion(entry, version)
      const test = loaded.selfTest
      if (test.status === 'failed') {
        const summary = `self-test failed: ${test.failed} of ${test.cases} cases (${test.failures.map((f) => `${f.name}: ${f.reason}`).join('; ')})`
        if (entry.config.selfTest === 'block') {
          await unloadVersion(loaded, log)
          throw new ServekitError('self_test_failed', `${entry.id}@${version} ${summary}`)
        }
        log.warn({ model_version: version, self_test: test }, `serving ${entry.id}@${version} despite failed self-test (selfTest: warn)`)
      }
      entry.serving = loaded
      entry.status = 'ready'
      entry.error = undefined
      log.info({ model_version: version, load_ms: round(loaded.loadMs), self_test: test.status, cases: test.cases }, `loaded ${entry.id}@${version}`)
    } catch (err) {
      entry.status = 'failed'
      entry.error = err instanceof Error ? err.message : String(err)
      // Our own errors carry a full message; only foreign ones need their stack in the log.
      const detail = isServekitError(err) ? { code: err.code, err: err.cause } : { code: 'model_load_failed', err }
      log.error(detail, `failed to load ${entry.id}: ${entry.error}`)
    }
  }

  private async resolveVersion(entry: ModelEntry): Promise<string> {
    if (entry.config.version !== 'latest') return entry.config.version
    const versions = await this.options.store.versions(entry.id)
    const latest = versions.at(-1)
    if (latest === undefined) throw new ServekitError('model_load_failed', `no versions of "${entry.id}" in the model store (expected a directory ${entry.id}/<version>/)`)
    return latest
  }

  private async loadVersion(entry: ModelEntry, version: string): Promise<LoadedVersion> {
    const label = `${entry.id}@${version}`
    const started = performance.now()
    const artifact = await this.options.store.open({ name: entry.id, version })
    const modelClass = await this.resolveModelClass(entry, artifact)
    let instance: unknown
    try {
      instance = await modelClass.load(artifact, { options: entry.config.options })
    } catch (err) {
      if (isServekitError(err) && err.code === 'model_load_failed') throw err
      throw new ServekitError('model_load_failed', `${label}: load threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    const loadMs = performance.now() - started
    const { predict, predictBatch } = createVersionPredict(label, modelClass, instance)
    const tolerance = entry.config.tolerance ?? modelClass.tolerance ?? DEFAULT_TOLERANCE
    const selfTest = await runSelfTest(modelClass, artifact, instance, predict, tolerance)
    return { modelId: entry.id, version, artifact, modelClass, instance, predict, predictBatch, loadedAt: new Date(), loadMs, selfTest }
  }

  private async resolveModelClass(entry: ModelEntry, artifact: Artifact): Promise<AnyModelClass> {
    const { module, framework } = entry.config
    if (module !== undefined) return importModelClass(resolve(this.options.baseDir, module))
    const name = framework ?? artifact.manifest.framework
    if (name === undefined) {
      throw new ServekitError('model_load_failed', `${entry.id}: no model class: set "module" or "framework" in the config, or "framework" in ${artifact.dir}/model.json`)
    }
    return loadFramework(name)
  }
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

async function unloadVersion(v: LoadedVersion, log: Logger): Promise<void> {
  try {
    await v.modelClass.unload?.(v.instance)
  } catch (err) {
    log.warn({ err, model_id: v.modelId, model_version: v.version }, 'unload threw')
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100
