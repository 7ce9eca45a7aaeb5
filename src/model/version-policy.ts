import type { ModelConfig } from '../config/schema.js'
import { compareVersions, type ServingState } from '../store/model-store.js'

/** What a model should look like after reconciling: versions to have loaded and the default. */
export interface DesiredState {
  /** Versions to load, highest first (a failed load of the default falls back down this list). */
  readonly load: readonly string[]
  /** Alias name -> version, config aliases overridden by the store's. */
  readonly aliases: Readonly<Record<string, string>>
  /** The version requests get when they name none; undefined when nothing is available. */
  readonly default: string | undefined
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
  for (const v of state.unload ?? []) if (v !== pinnedDefault) selected.delete(v)

  const load = [...selected].sort(compareVersions).reverse()
  return { load, aliases, default: pinnedDefault ?? load[0] }
}

function selectByPolicy(policy: ModelConfig['versions'], available: readonly string[]): string[] {
  if (policy === 'latest') return available.slice(-1)
  if (typeof policy === 'string') return available.includes(policy) ? [policy] : []
  if (Array.isArray(policy)) return policy.filter((v) => available.includes(v))
  return available.slice(-policy.latest)
}
