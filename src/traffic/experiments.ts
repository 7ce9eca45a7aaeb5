import type { ModelConfig } from '../config/schema.js'
import type { ModelEntry, RegistryEvents } from '../model/registry.js'
import { experimentOf } from '../model/version-policy.js'
import type { Logger } from '../observe/logger.js'
import { compareVersions, type ExperimentSpec, type ModelStore, type ServingState } from '../store/model-store.js'
import { unitHash } from './stable-hash.js'

/** One model's weighted split, prepared once per change: the request path is a scan of a few bounds. */
export class Experiment {
  /** Arms with a weight above 0, in version order (so raising an arm's share only moves keys into it). */
  readonly arms: readonly string[]
  /** Cumulative upper bound of each arm in [0, 1]. */
  private readonly bounds: Float64Array
  /** The feature that makes the split sticky, if configured. */
  readonly key: string | undefined
  /** The spec as JSON, to tell a real change from a re-read of the same serving.json. */
  readonly signature: string

  constructor(
    readonly modelId: string,
    spec: ExperimentSpec,
  ) {
    const arms = Object.keys(spec.weights)
      .filter((a) => (spec.weights[a] ?? 0) > 0)
      .sort(compareVersions)
    const total = arms.reduce((sum, a) => sum + (spec.weights[a] ?? 0), 0)
    this.arms = arms
    this.bounds = new Float64Array(arms.length)
    let acc = 0
    arms.forEach((a, i) => {
      acc += spec.weights[a] ?? 0
      this.bounds[i] = acc / total
    })
    this.key = spec.key
    this.signature = JSON.stringify({ w: arms.map((a) => [a, spec.weights[a]]), k: spec.key ?? null })
  }

  /** The arm for a sticky key (same key, same arm, in every process), or a random one without a key. */
  pick(key: string | undefined): string {
    return this.armAt(key === undefined ? Math.random() : unitHash(this.modelId, key))
  }

  /** The arm whose share of [0, 1) holds `u`. */
  armAt(u: number): string {
    const last = this.arms.length - 1
    for (let i = 0; i < last; i++) if (u < (this.bounds[i] as number)) return this.arms[i] as string
    return this.arms[last] as string
  }

  describe(): { weights: Record<string, number>; key: string | null } {
    const shares: Record<string, number> = {}
    let previous = 0
    this.arms.forEach((a, i) => {
      const bound = this.bounds[i] as number
      shares[a] = Math.round((bound - previous) * 1e6) / 1e4
      previous = bound
    })
    return { weights: shares, key: this.key ?? null }
  }
}

/** Where a model's current experiment is read on each request: one property read, swapped by assignment. */
export interface ExperimentSlot {
  current: Experiment | undefined
}

/**
 * The experiments in force, per model. The weights come from the config or from the store's
 * serving.json (set by `PUT /admin/models/:id/experiment`), so they change without a restart.
 *
 * The registry already re-reads serving.json on every reconcile (poll, admin change, notification
 * from another worker); `observe(store)` keeps what that read returned, so the traffic layer needs
 * no read of its own, and `events()` publishes it when the reconcile has finished, that is once the
 * arms it needs are loaded.
 */
export class ExperimentTable {
  private readonly slots = new Map<string, ExperimentSlot>()
  private readonly lastRead = new Map<string, ServingState>()

  constructor(
    models: Readonly<Record<string, Pick<ModelConfig, 'experiment'>>>,
    private readonly logger: Logger,
  ) {
    for (const id of Object.keys(models)) this.slots.set(id, { current: undefined })
  }

  /** The slot of a configured model (undefined for unknown ids). */
  slot(id: string): ExperimentSlot | undefined {
    return this.slots.get(id)
  }

  /** The store, with every serving.json read noted. Other calls pass through unchanged. */
  observe(store: ModelStore): ModelStore {
    const read = async (name: string): Promise<ServingState> => {
      const state = await store.readServingState(name)
      this.lastRead.set(name, state)
      return state
    }
    // A Proxy rather than a wrapper object, so that methods added to ModelStore later keep working.
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'readServingState') return read
        const value: unknown = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }

  /** Registry events that publish a model's experiment after each change, then call `inner`'s. */
  events(inner: RegistryEvents | undefined): RegistryEvents {
    return {
      ...inner,
      changed: (entry) => {
        inner?.changed?.(entry)
        this.publish(entry)
      },
    }
  }

  private publish(entry: ModelEntry): void {
    const slot = this.slots.get(entry.id)
    if (slot === undefined) return
    const spec = experimentOf(entry.config, this.lastRead.get(entry.id) ?? {})
    const next = spec === undefined ? undefined : new Experiment(entry.id, spec)
    if (next?.signature === slot.current?.signature) return
    slot.current = next
    const missing = next?.arms.filter((a) => !entry.routes.has(a)) ?? []
    this.logger.info({ model_id: entry.id, experiment: next?.describe() ?? null, arms_not_loaded: missing }, next ? `experiment ${entry.id}: ${next.arms.map((a) => `${a}=${next.describe().weights[a]}%`).join(' ')}` : `experiment ${entry.id} ended`)
  }
}
