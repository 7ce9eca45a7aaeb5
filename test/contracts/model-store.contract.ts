import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ModelStore } from '../../src/store/model-store.js'

/** Writes a small artifact directory: model.json plus one weights file. */
async function artifactDir(root: string, weights: number): Promise<string> {
  const dir = await mkdtemp(join(root, 'src-'))
  await mkdir(join(dir, 'nested'), { recursive: true })
  await writeFile(join(dir, 'model.json'), JSON.stringify({ description: `w=${weights}`, created_at: '2026-01-01T00:00:00Z' }))
  await writeFile(join(dir, 'nested', 'weights.json'), JSON.stringify({ weights }))
  return dir
}

/**
 * The behaviour every ModelStore must have, run against each implementation (Hono's runTest pattern).
 * `create` returns a fresh, empty store.
 */
export function runModelStoreContract(name: string, create: () => Promise<{ store: ModelStore; cleanup: () => Promise<void> }>): void {
  describe(`ModelStore contract: ${name}`, () => {
    let store: ModelStore
    let cleanup: () => Promise<void>
    let scratch: string

    beforeAll(async () => {
      ;({ store, cleanup } = await create())
      scratch = await mkdtemp(join(tmpdir(), 'servekit-contract-'))
    })
    afterAll(async () => {
      await cleanup()
      await rm(scratch, { recursive: true, force: true })
    })

    it('has no versions for an unknown model', async () => {
      expect(await store.versions('absent')).toEqual([])
    })

    it('lists published versions, integers numerically', async () => {
      for (const v of ['2', '10', '1']) await store.publish({ name: 'm', version: v }, await artifactDir(scratch, Number(v)))
      expect(await store.versions('m')).toEqual(['1', '2', '10'])
    })

    it('opens a version as a local directory with its manifest and files', async () => {
      const a = await store.open({ name: 'm', version: '10' })
      expect(a.manifest.description).toBe('w=10')
      expect(await a.readJson('nested/weights.json')).toEqual({ weights: 10 })
      expect(a.name).toBe('m')
      expect(a.version).toBe('10')
    })

    it('refuses to overwrite a published version', async () => {
      await expect(store.publish({ name: 'm', version: '2' }, await artifactDir(scratch, 99))).rejects.toMatchObject({ code: 'invalid_request' })
      expect(await (await store.open({ name: 'm', version: '2' })).readJson('nested/weights.json')).toEqual({ weights: 2 })
    })

    it('refuses names that could escape the store', async () => {
      await expect(store.versions('../m')).rejects.toMatchObject({ code: 'invalid_request' })
      await expect(store.open({ name: 'm', version: '..' })).rejects.toMatchObject({ code: 'invalid_request' })
      await expect(store.publish({ name: 'a/b', version: '1' }, scratch)).rejects.toMatchObject({ code: 'invalid_request' })
    })

    it('reads an empty serving state when none was written, then round-trips one', async () => {
      expect(await store.readServingState('m')).toEqual({})
      await store.writeServingState('m', { default: '2', aliases: { stable: '1' }, unload: ['10'] })
      expect(await store.readServingState('m')).toEqual({ default: '2', aliases: { stable: '1' }, unload: ['10'] })
      // The serving state is not a version.
      expect(await store.versions('m')).toEqual(['1', '2', '10'])
    })
  })
}
