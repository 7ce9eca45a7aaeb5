import { isServekitError, ServekitError } from '../errors.js'
import type { ModelConfig } from '../config/schema.js'
import type { Logger } from '../observe/logger.js'
import type { ModelStore, ServingState } from '../store/model-store.js'
import { findIncompatibilities } from './compatibility.js'
import { drain, loadVersion, unloadVersion, type LoadedVersion } from './version-loader.js'
import { desiredState } from './version-policy.js'

export type { LoadedVersion } from './version-loader.js'

export type ModelStatus = 'loading' | 'ready' | 'failed'

/** A configured model id and the versions loaded for it. */
export interface ModelEntry {
  readonly id: string
  readonly config: ModelConfig
  status: ModelStatus
  /** The version requests get when they name none. Swapped by assignment: a lookup never sees a half-loaded version. */
  serving: LoadedVersion | undefined
  /** Every loaded version, by version name. */
  readonly loaded: Map<string, LoadedVersion>
  /** Version names and aliases -> loaded version, for `name@version` and `model_version` requests. Rebuilt on every change. */
  routes: Map<string, LoadedVersion>
  /** Alias -> version, as last reconciled. */
  aliases: Readonly<Record<string, string>>
  /** Versions that failed to load, their self-test or the compatibility check, and why. Not retried until asked. */
  readonly failures: Map<string, string>
  /** Why the model has no serving version (no versions, store unreachable, every candidate failed). */
  error: string | undefined
}

/** What the registry tells observers (metrics, logs) about the control plane. Called in order; must not throw. */
export interface RegistryEvents {
  /** A version loaded and ran its self-test (passed or not). */
  loaded?(v: LoadedVersion): void
  /** A version was refused: `reason` is load, self_test or compatibility. */
  refused?(modelId: string, version: string, reason: 'load' | 'self_test' | 'compatibility', message: string): void
  /** What a model serves changed (swap, load, retire). */
  changed?(entry: ModelEntry): void
  /** A version was unloaded. */
  unloaded?(v: LoadedVersion): void
}

export interface RegistryOptions {
  models: Record<string, ModelConfig>
  store: ModelStore
  /** Directory that `module` paths are relative to (the config file's). */
  baseDir: string
  logger: Logger
  /** Longest wait for in-flight requests before an old version is unloaded anyway. */
  drainTimeoutMs?: number
  events?: RegistryEvents
}

/** How many versions below a failed default are tried when nothing serves yet (cold start after a bad publish). */
const FALLBACK_TRIES = 3

/**
 * Holds model id -> loaded versions. Lookups are Map gets; everything else (loading, self-tests,
 * swaps, unloading) happens in `reconcile`, off the request path and one model change at a time.
 */
export class ModelRegistry {
  private readonly entries = new Map<string, ModelEntry>()
  /** Sorted ids, computed once for error messages. */
  readonly ids: readonly string[]
  /** Serialises reconciles, so a poll and an admin call never load the same version twice. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly options: RegistryOptions) {
    for (const [id, config] of Object.entries(options.models)) {
      this.entries.set(id, { id, config, status: 'loading', serving: undefined, loaded: new Map(), routes: new Map(), aliases: {}, failures: new Map(), error: undefined })
    }
    this.ids = [...this.entries.keys()].sort()
  }

  get store(): ModelStore {
    return this.options.store
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

  /** Loads every configured model at start. A model that fails is marked failed; the others still load. */
  loadAll(): Promise<void> {
    return this.reconcileAll()
  }

  /** Brings every model in line with the store (new versions, moved aliases). Never throws. */
  reconcileAll(): Promise<void> {
    return this.serialise(() => Promise.all(this.list().map((e) => this.reconcileEntry(e))).then(() => undefined))
  }

  /** Brings one model in line with the store; `retry` forgets earlier failures first. */
  reconcile(id: string, opts: { retry?: boolean } = {}): Promise<ModelEntry> {
    const entry = this.require(id)
    return this.serialise(async () => {
      if (opts.retry) entry.failures.clear()
      await this.reconcileEntry(entry)
      return entry
    })
  }

  /**
   * Loads `version` (if needed) and checks it could become the default (self-test and compatibility
   * with what serves now), without changing what serves. Throws with the reason when it could not.
   */
  prepare(id: string, version: string, opts: { asDefault: boolean }): Promise<LoadedVersion> {
    const entry = this.require(id)
    return this.serialise(async () => {
      entry.failures.delete(version)
      const available = await this.options.store.versions(id)
      if (!available.includes(version)) throw new ServekitError('version_not_found', `${id}@${version} is not in the store (available: ${available.join(', ') || 'none'})`)
      const candidate = entry.loaded.get(version) ?? (await this.tryLoad(entry, version))
      if (candidate === undefined) {
        const reason = entry.failures.get(version) ?? `${id}@${version} failed to load`
        throw new ServekitError(reason.includes('self-test failed') ? 'self_test_failed' : 'model_load_failed', reason)
      }
      if (!entry.loaded.has(version)) entry.loaded.set(version, candidate)
      this.options.events?.changed?.(entry)
      const problems = opts.asDefault && entry.serving && entry.serving !== candidate ? await this.compatibilityProblems(entry, entry.serving, candidate) : undefined
      if (problems) throw new ServekitError('incompatible_version', problems)
      this.rebuildRoutes(entry)
      return candidate
    })
  }

  /** Reads, changes and writes the model's serving state in the store, then reconciles. */
  async updateServingState(id: string, change: (state: ServingState) => ServingState): Promise<ModelEntry> {
    this.require(id)
    const state = await this.options.store.readServingState(id)
    await this.options.store.writeServingState(id, change(structuredClone(state)))
    return this.reconcile(id)
  }

  /** Unloads every version (shutdown). */
  async unloadAll(): Promise<void> {
    await this.serialise(() =>
      Promise.all(
        this.list().map(async (entry) => {
          const versions = [...entry.loaded.values()]
          entry.serving = undefined
          entry.loaded.clear()
          entry.routes = new Map()
          await Promise.all(versions.map((v) => unloadVersion(v, this.options.logger)))
        }),
      ),
    )
  }

  private require(id: string): ModelEntry {
    const entry = this.entries.get(id)
    if (entry === undefined) throw new ServekitError('model_not_found', `model "${id.slice(0, 64)}" not found (known: ${this.ids.join(', ')})`)
    return entry
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async reconcileEntry(entry: ModelEntry): Promise<void> {
    const log = this.options.logger.child({ model_id: entry.id })
    let available: string[]
    let state: ServingState
    try {
      ;[available, state] = await Promise.all([this.options.store.versions(entry.id), this.options.store.readServingState(entry.id)])
    } catch (err) {
      // Keep serving what is loaded; the store may be back at the next poll.
      entry.error = `cannot read the model store: ${err instanceof Error ? err.message : String(err)}`
      if (entry.serving === undefined) entry.status = 'failed'
      log.error({ err }, entry.error)
      return
    }
    const desired = desiredState(entry.config, available, state)
    entry.aliases = desired.aliases

    for (const version of desired.load) {
      if (!entry.loaded.has(version) && !entry.failures.has(version)) {
        const loaded = await this.tryLoad(entry, version)
        if (loaded) entry.loaded.set(version, loaded)
      }
    }

    await this.chooseDefault(entry, desired.default, available, log)

    // Retire versions no longer wanted: unreachable first, unloaded once their requests finish.
    const keep = new Set(desired.load)
    const retired = [...entry.loaded.values()].filter((v) => !keep.has(v.version) && v !== entry.serving)
    for (const v of retired) entry.loaded.delete(v.version)
    this.rebuildRoutes(entry)
    for (const v of retired) void this.retire(v, log)
    this.options.events?.changed?.(entry)

    if (entry.serving) {
      entry.status = 'ready'
      entry.error = undefined
    } else {
      entry.status = 'failed'
      entry.error =
        available.length === 0
          ? `no versions of "${entry.id}" in the model store ${this.options.store.description} (expected ${entry.id}/<version>/)`
          : desired.default === undefined
            ? `no version of "${entry.id}" matches the config (versions: ${JSON.stringify(entry.config.versions)}; available: ${available.join(', ')})`
            : (entry.failures.get(desired.default) ?? `${entry.id}@${desired.default} is not loaded`)
    }
  }

  /** Swaps in the desired default if it loaded and is compatible; otherwise keeps what serves (or falls back at cold start). */
  private async chooseDefault(entry: ModelEntry, want: string | undefined, available: readonly string[], log: Logger): Promise<void> {
    if (want === undefined || entry.serving?.version === want) return
    const candidate = entry.loaded.get(want)
    if (candidate && entry.serving) {
      const problems = await this.compatibilityProblems(entry, entry.serving, candidate)
      if (problems) {
        entry.failures.set(want, problems)
        this.options.events?.refused?.(entry.id, want, 'compatibility', problems)
        entry.loaded.delete(want)
        void this.retire(candidate, log)
        log.error({ model_version: want, code: 'incompatible_version' }, problems)
        return
      }
    }
    if (candidate) {
      const previous = entry.serving
      entry.serving = candidate
      log.info({ model_version: want, previous_version: previous?.version ?? null }, previous ? `swapped ${entry.id}: ${previous.version} -> ${want}` : `serving ${entry.id}@${want}`)
      return
    }
    if (entry.serving) {
      log.warn({ model_version: want, serving_version: entry.serving.version }, `${entry.id}@${want} cannot serve; ${entry.serving.version} keeps serving`)
      return
    }
    // Cold start and the wanted version is broken: serve the newest older version that loads.
    const older = available.filter((v) => !entry.failures.has(v) && v !== want && available.indexOf(v) < available.indexOf(want)).reverse().slice(0, FALLBACK_TRIES)
    for (const v of older) {
      const loaded = entry.loaded.get(v) ?? (await this.tryLoad(entry, v))
      if (loaded) {
        entry.loaded.set(v, loaded)
        entry.serving = loaded
        log.warn({ model_version: v, wanted_version: want }, `${entry.id}@${want} cannot serve; falling back to ${entry.id}@${v}`)
        return
      }
    }
  }

  private async compatibilityProblems(entry: ModelEntry, serving: LoadedVersion, candidate: LoadedVersion): Promise<string | undefined> {
    const problems = await findIncompatibilities(serving, candidate)
    if (problems.length === 0) return undefined
    const message = `${entry.id}@${candidate.version} rejects features that ${entry.id}@${serving.version} accepts: ${problems.slice(0, 3).join('; ')}`
    if (entry.config.compatibility === 'warn') {
      this.options.logger.warn({ model_id: entry.id, model_version: candidate.version }, `${message}; swapping anyway (compatibility: warn)`)
      return undefined
    }
    return message
  }

  private async tryLoad(entry: ModelEntry, version: string): Promise<LoadedVersion | undefined> {
    const log = this.options.logger.child({ model_id: entry.id })
    try {
      const loaded = await loadVersion(entry.id, entry.config, version, this.options, log)
      this.options.events?.loaded?.(loaded)
      log.info({ model_version: version, load_ms: round(loaded.loadMs), self_test: loaded.selfTest.status, cases: loaded.selfTest.cases }, `loaded ${entry.id}@${version}`)
      return loaded
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      entry.failures.set(version, message)
      this.options.events?.refused?.(entry.id, version, isServekitError(err) && err.code === 'self_test_failed' ? 'self_test' : 'load', message)
      // Our own errors carry a full message; only foreign ones need their stack in the log.
      const detail = isServekitError(err) ? { code: err.code, err: err.cause } : { code: 'model_load_failed', err }
      log.error({ ...detail, model_version: version }, `failed to load ${entry.id}@${version}: ${message}`)
      return undefined
    }
  }

  private async retire(v: LoadedVersion, log: Logger): Promise<void> {
    const drained = await drain(v, this.options.drainTimeoutMs ?? 30_000)
    if (!drained) log.warn({ model_version: v.version, inflight: v.inflight }, 'unloading a version with requests still running (drain timeout)')
    await unloadVersion(v, log)
    this.options.events?.unloaded?.(v)
    log.info({ model_version: v.version }, `unloaded ${v.modelId}@${v.version}`)
  }

  private rebuildRoutes(entry: ModelEntry): void {
    const routes = new Map<string, LoadedVersion>()
    for (const [name, v] of entry.loaded) routes.set(name, v)
    for (const [alias, version] of Object.entries(entry.aliases)) {
      const v = entry.loaded.get(version)
      if (v && !routes.has(alias)) routes.set(alias, v)
    }
    entry.routes = routes
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100
