import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ServekitError } from '../errors.js'
import { isSafeName } from '../config/schema.js'
import type { Artifact } from '../model/interface.js'
import { openArtifact } from './artifact.js'
import { compareVersions, type ModelRef, type ModelStore } from './model-store.js'

/** The default store: a local directory `<root>/<name>/<version>/`. */
export class FsModelStore implements ModelStore {
  constructor(readonly root: string) {}

  async versions(name: string): Promise<string[]> {
    assertSafe(name, 'model name')
    let entries
    try {
      entries = await readdir(join(this.root, name), { withFileTypes: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    return entries
      .filter((e) => e.isDirectory() && isSafeName(e.name))
      .map((e) => e.name)
      .sort(compareVersions)
  }

  async open(ref: ModelRef): Promise<Artifact> {
    assertSafe(ref.name, 'model name')
    assertSafe(ref.version, 'version')
    return openArtifact(join(this.root, ref.name, ref.version), ref.name, ref.version)
  }
}

function assertSafe(value: string, what: string): void {
  if (!isSafeName(value)) throw new ServekitError('invalid_request', `${what} "${value.slice(0, 64)}" is not a valid name`)
}
