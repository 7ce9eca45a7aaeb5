import type { Artifact } from '../model/interface.js'

/** One version of one model in a store. */
export interface ModelRef {
  readonly name: string
  readonly version: string
}

/**
 * What the control plane keeps in the store beside a model's versions (`<name>/serving.json`), so
 * every replica, and every restart, agrees on it: the default version after a deploy or rollback,
 * named aliases, and versions loaded or unloaded by hand.
 */
export interface ServingState {
  /** The version requests get when they name none. Absent: the highest loaded version. */
  default?: string
  /** Named pointers, e.g. `{ "stable": "3", "canary": "4" }`. */
  aliases?: Record<string, string>
  /** Versions to load besides those the config's policy selects. */
  load?: string[]
  /** Versions not to load even if the policy selects them. */
  unload?: string[]
  /** Experiment weights set by the admin API; replaces the config's `experiment` while present. */
  experiment?: ExperimentSpec
}

/** A weighted split of a model's traffic across versions or aliases (`{ "3": 90, "4": 10 }`). */
export interface ExperimentSpec {
  weights: Record<string, number>
  /** Feature whose value makes the split sticky; absent: the config's key, else `experiment_key`, else random. */
  key?: string | undefined
}

/**
 * Where artifacts live: `<root>/<name>/<version>/` with files and a `model.json`.
 * Implementations: FsModelStore (a local directory, the default) and S3ModelStore.
 * Every implementation passes `test/contracts/model-store.contract.ts`.
 */
export interface ModelStore {
  /** Shown in logs, e.g. `./models` or `s3://bucket/prefix/`. */
  readonly description: string
  /** The complete versions of `name`, oldest first (see compareVersions). Empty when it has none. */
  versions(name: string): Promise<string[]>
  /** A local directory holding the version's files, with its manifest parsed. */
  open(ref: ModelRef): Promise<Artifact>
  /** Copies a local directory in as a new version; it becomes visible to `versions` only when complete. */
  publish(ref: ModelRef, sourceDir: string): Promise<void>
  readServingState(name: string): Promise<ServingState>
  writeServingState(name: string, state: ServingState): Promise<void>
}

/** Orders versions: numerically when both are integers ("9" < "10"), else by string. */
export function compareVersions(a: string, b: string): number {
  const na = /^\d+$/.test(a)
  const nb = /^\d+$/.test(b)
  if (na && nb) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
  if (na !== nb) return na ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** The version after the highest integer version: "1" for none. */
export function nextVersion(versions: readonly string[]): string {
  let max = 0
  for (const v of versions) if (/^\d+$/.test(v)) max = Math.max(max, Number(v))
  return String(max + 1)
}
