import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FsModelStore } from '../../../src/store/fs-model-store.js'
import { compareVersions } from '../../../src/store/model-store.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'servekit-store-'))
  for (const v of ['1', '2', '10', 'exp-a']) await mkdir(join(root, 'm', v), { recursive: true })
  await writeFile(join(root, 'm', '10', 'model.json'), JSON.stringify({ description: 'ten', metadata: { auc: 0.9 }, custom: 1 }))
  await writeFile(join(root, 'm', '10', 'w.json'), '{"w": 3}')
  await mkdir(join(root, 'bad', '1'), { recursive: true })
  await writeFile(join(root, 'bad', '1', 'model.json'), '{not json')
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('FsModelStore', () => {
  it('lists versions numerically, then named ones', async () => {
    expect(await new FsModelStore(root).versions('m')).toEqual(['1', '2', '10', 'exp-a'])
  })

  it('returns no versions for an unknown model', async () => {
    expect(await new FsModelStore(root).versions('absent')).toEqual([])
  })

  it('opens an artifact with its manifest (unknown fields kept) and reads files', async () => {
    const a = await new FsModelStore(root).open({ name: 'm', version: '10' })
    expect(a.manifest).toMatchObject({ description: 'ten', metadata: { auc: 0.9 }, custom: 1 })
    expect(await a.readJson('w.json')).toEqual({ w: 3 })
  })

  it('refuses artifact paths that leave the version directory', async () => {
    const a = await new FsModelStore(root).open({ name: 'm', version: '10' })
    expect(() => a.path('../1/x')).toThrow(/outside/)
    expect(() => a.path('/etc/passwd')).toThrow(/outside/)
  })

  it('refuses model names and versions with traversal', async () => {
    const store = new FsModelStore(root)
    await expect(store.versions('../m')).rejects.toThrow(/not a valid name/)
    await expect(store.open({ name: 'm', version: '..' })).rejects.toThrow(/not a valid name/)
  })

  it('fails to open a version whose model.json is not JSON, naming the file', async () => {
    await expect(new FsModelStore(root).open({ name: 'bad', version: '1' })).rejects.toMatchObject({
      code: 'model_load_failed',
      message: expect.stringContaining(join(root, 'bad', '1', 'model.json')),
    })
  })
})

describe('compareVersions', () => {
  it('orders integers by value and puts them before names', () => {
    expect(['10', 'b', '9', 'a', '100'].sort(compareVersions)).toEqual(['9', '10', '100', 'a', 'b'])
  })
})
