import type { ModelConfig } from '../config/schema.js'
import { compareVersions, type ExperimentSpec, type ServingState } from '../store/model-store.js'

/** What a model should look like after reconciling: versions to have loaded and the default. */
export interface DesiredState {
  /** Versions to load, highest first (a failed load of the default falls back down this list). */
  readonly load: readonly string[]
  /** Alias name -> version, config aliases overridden by the store's. */
  readonly aliases: Readonly<Record<string, string>>
  /** The version requests get when they name none; undefined when nothing is available. */
  readonly default: string | undefined
  /** The experiment in force (the store's weights over the config's); its arms are in `load`. */
  readonly experiment?: ExperimentSpec | undefined
}

/** The experiment in force: weights set through the admin API (serving.json) replace the config's. */
export function experimentOf(config: Pick<ModelConfig, 'experiment'>, state: ServingState): ExperimentSpec | undefined {
  if (state.experiment === undefined) return config.experiment
  return { weights: state.experiment.weights, key: state.experiment.key ?? config.experiment?.key }
}

/**
 * Applies the config's version policy and the store's serving state to the versions available.
 * Pure, so every replica computes the same answer from the same store.
 */
export function desiredState(config: ModelConfig, available: readonly string[], state: ServingState): DesiredState {
  const have = new Set(available)
  const aliases: Record<string, string> = {}
  for (const [name, v] of Object.entries({ ...config.aliases, ...state.aliases })) if (have.has(v)) aliases[name] = v
  const resolveRef = (ref: string | undefined): string | undefined => (ref === undefined ? undefined : (aliases[ref] ?? (have.has(ref) ? ref : undefined)))

  const selected = new Set(selectByPolicy(config.versions, available))
  for (const v of state.load ?? []) if (have.has(v)) selected.add(v)
  for (const v of Object.values(aliases)) selected.add(v)
  const pinnedDefault = resolveRef(state.default) ?? resolveRef(config.default)
  if (pinnedDefault !== undefined) selected.add(pinnedDefault)
  // Experiment arms with a weight are loaded (like aliases), and not unloaded while they have one;
  // so is a shadow target that is a version of this model (another model's: by that model's settings).
  // Neither becomes the default by being the highest: a candidate is not promoted by being loaded.
  const candidates = new Set<string>()
  const experiment = experimentOf(config, state)
  const arms = new Set<string>()
  for (const [arm, weight] of Object.entries(experiment?.weights ?? {})) {
    const v = weight > 0 ? resolveRef(arm) : undefined
    if (v !== undefined) arms.add(v)
  }
  for (const t of config.shadow ?? []) {
    const v = t.model === undefined && t.version !== undefined ? resolveRef(t.version) : undefined
    if (v !== undefined && !selected.has(v)) candidates.add(v)
  }
  for (const v of arms) if (!selected.has(v)) candidates.add(v)
  for (const v of candidates) selected.add(v)
  for (const v of state.unload ?? []) if (v !== pinnedDefault && !arms.has(v)) selected.delete(v)

  const load = [...selected].sort(compareVersions).reverse()
  const fallback = load.find((v) => !candidates.has(v)) ?? load[0]
  return experiment === undefined ? { load, aliases, default: pinnedDefault ?? fallback } : { load, aliases, default: pinnedDefault ?? fallback, experiment }
}

function selectByPolicy(policy: ModelConfig['versions'], available: readonly string[]): string[] {
  if (policy === 'latest') return available.slice(-1)
  if (typeof policy === 'string') return available.includes(policy) ? [policy] : []
  if (Array.isArray(policy)) return policy.filter((v) => available.includes(v))
  return available.slice(-policy.latest)
}
