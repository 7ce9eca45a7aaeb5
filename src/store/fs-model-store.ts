import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { ServekitError } from '../errors.js'
import { isSafeName } from '../config/schema.js'
import type { Artifact } from '../model/interface.js'
import { openArtifact } from './artifact.js'
import { compareVersions, type ModelRef, type ModelStore, type ServingState } from './model-store.js'
import { formatServingState, parseServingState, SERVING_STATE_FILE } from './serving-state.js'

/**
 * The default store: a local directory `<root>/<name>/<version>/`. Publishing copies into a hidden
 * temporary directory and renames it into place, so a half-copied version is never listed.
 */
export class FsModelStore implements ModelStore {
  readonly description: string

  constructor(readonly root: string) {
    this.description = root
  }

  async versions(name: string): Promise<string[]> {
    assertSafe(name, 'model name')
    let entries
    try {
      entries = await readdir(join(this.root, name), { withFileTypes: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    // Names starting with "." (publishing in progress) fail isSafeName and stay hidden.
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

  async publish(ref: ModelRef, sourceDir: string): Promise<void> {
    assertSafe(ref.name, 'model name')
    assertSafe(ref.version, 'version')
    const modelDir = join(this.root, ref.name)
    const target = join(modelDir, ref.version)
    const staging = join(modelDir, `.publishing-${ref.version}-${randomUUID()}`)
    await mkdir(modelDir, { recursive: true })
    try {
      await cp(sourceDir, staging, { recursive: true, errorOnExist: true, force: false })
      // rename() fails on an existing non-empty directory: a version is never overwritten.
      await rename(staging, target)
    } catch (err) {
      await rm(staging, { recursive: true, force: true })
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ServekitError('invalid_request', `${ref.name}@${ref.version} already exists in ${this.root}; versions are immutable`)
      throw err
    }
  }

  async readServingState(name: string): Promise<ServingState> {
    assertSafe(name, 'model name')
    const file = join(this.root, name, SERVING_STATE_FILE)
    try {
      return parseServingState(await readFile(file, 'utf8'), file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
      throw err
    }
  }

  async writeServingState(name: string, state: ServingState): Promise<void> {
    assertSafe(name, 'model name')
    const dir = join(this.root, name)
    await mkdir(dir, { recursive: true })
    // Write then rename: a reader never sees half a file.
    const tmp = join(dir, `.${SERVING_STATE_FILE}.${randomUUID()}`)
    await writeFile(tmp, formatServingState(state))
    await rename(tmp, join(dir, SERVING_STATE_FILE))
  }
}

export function assertSafe(value: string, what: string): void {
  if (!isSafeName(value)) throw new ServekitError('invalid_request', `${what} "${value.slice(0, 64)}" is not a valid name`)
}
