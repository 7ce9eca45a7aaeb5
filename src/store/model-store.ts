import type { Artifact } from '../model/interface.js'

/** One version of one model in a store. */
export interface ModelRef {
  readonly name: string
  readonly version: string
}

/**
 * Where artifacts live: `<root>/<name>/<version>/` with files and a `model.json`.
 * Implementations: FsModelStore (a local directory).
 */
export interface ModelStore {
  /** The versions of `name`, oldest first (see compareVersions). Empty when the model has none. */
  versions(name: string): Promise<string[]>
  /** A local directory holding the version's files, with its manifest parsed. */
  open(ref: ModelRef): Promise<Artifact>
}

/** Orders versions: numerically when both are integers ("9" < "10"), else by string. */
export function compareVersions(a: string, b: string): number {
  const na = /^\d+$/.test(a)
  const nb = /^\d+$/.test(b)
  if (na && nb) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
  if (na !== nb) return na ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}
