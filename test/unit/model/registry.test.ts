import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { modelConfigSchema } from '../../../src/config/schema.js'
import { createPredictor } from '../../../src/model/predictor.js'
import { ModelRegistry } from '../../../src/model/registry.js'
import { createLogger } from '../../../src/observe/logger.js'
import { FsModelStore } from '../../../src/store/fs-model-store.js'

let root: string
const logger = createLogger({ level: 'silent', pretty: false })
const signal = new AbortController().signal

// Model classes as plain .mjs files, so the registry imports them exactly as it would a user's.
const SCALE = `export default {
  async load(a) { return a.readJson('w.json') },
  predict(m, f) { return m.w * f.x },
  testData: [{ features: { x: 2 }, expected: 6 }],
  unload(m) { globalThis.__unloaded = (globalThis.__unloaded ?? 0) + 1 },
}`

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'servekit-registry-'))
  for (const [name, version, w] of [['scale', '1', 3], ['scale', '2', 3], ['wrong', '1', 5], ['bad', '1', 1]] as const) {
    await mkdir(join(root, 'models', name, version), { recursive: true })
    await writeFile(join(root, 'models', name, version, 'w.json'), JSON.stringify({ w }))
  }
  await writeFile(join(root, 'scale.mjs'), SCALE)
  await writeFile(join(root, 'throws-on-load.mjs'), `export default { load() { throw new Error('no weights') }, predict() { return 1 } }`)
  await writeFile(join(root, 'not-a-model.mjs'), `export default { predict() { return 1 } }`)
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

const registry = (models: Record<string, unknown>) =>
  new ModelRegistry({
    models: Object.fromEntries(Object.entries(models).map(([id, m]) => [id, modelConfigSchema.parse(m)])),
    store: new FsModelStore(join(root, 'models')),
    baseDir: root,
    logger,
  })

describe('ModelRegistry', () => {
  it('loads the latest version of each model and serves it', async () => {
    const r = registry({ scale: { module: './scale.mjs' } })
    await r.loadAll()
    expect(r.isReady()).toBe(true)
    expect(r.get('scale')?.serving?.version).toBe('2')
    const res = await createPredictor(r).predict({ modelId: 'scale', features: { x: 4 }, requestId: 't' }, signal)
    expect(res).toEqual({ output: 12, modelId: 'scale', modelVersion: '2' })
  })

  it('serves a pinned version', async () => {
    const r = registry({ scale: { module: './scale.mjs', versions: '1' } })
    await r.loadAll()
    expect(r.get('scale')?.serving?.version).toBe('1')
  })

  it('records the self-test report on the version', async () => {
    const r = registry({ scale: { module: './scale.mjs' } })
    await r.loadAll()
    expect(r.get('scale')?.serving?.selfTest).toMatchObject({ status: 'passed', cases: 1, failed: 0 })
  })

  it('keeps a version whose self-test fails out of service under selfTest: block, and unloads it', async () => {
    // "wrong" uses the scale class with w = 5, so the case expecting 6 gets 10.
    const before = (globalThis as { __unloaded?: number }).__unloaded ?? 0
    const r = registry({ wrong: { module: './scale.mjs' } })
    await r.loadAll()
    const entry = r.get('wrong')!
    expect(entry.status).toBe('failed')
    expect(entry.serving).toBeUndefined()
    expect(entry.error).toContain('self-test failed')
    expect(entry.error).toContain('expected 6, got 10')
    expect(r.isReady()).toBe(false)
    expect((globalThis as { __unloaded?: number }).__unloaded).toBe(before + 1)
  })

  it('serves a version whose self-test fails under selfTest: warn, with the failure recorded', async () => {
    const r = registry({ wrong: { module: './scale.mjs', selfTest: 'warn' } })
    await r.loadAll()
    expect(r.get('wrong')?.serving?.selfTest).toMatchObject({ status: 'failed', failed: 1 })
    expect(r.isReady()).toBe(true)
  })

  it('marks a model whose load throws as failed while the others load', async () => {
    const r = registry({ scale: { module: './scale.mjs' }, bad: { module: './throws-on-load.mjs' } })
    await r.loadAll()
    expect(r.get('scale')?.status).toBe('ready')
    expect(r.get('bad')).toMatchObject({ status: 'failed', serving: undefined })
    expect(r.get('bad')?.error).toContain('no weights')
    expect(() => createPredictor(r).predict({ modelId: 'bad', features: {}, requestId: 't' }, signal)).toThrow(expect.objectContaining({ code: 'not_ready' }))
  })

  it('explains a module that does not export a model class', async () => {
    const r = registry({ scale: { module: './not-a-model.mjs' } })
    await r.loadAll()
    expect(r.get('scale')?.error).toMatch(/must default-export a model class/)
  })

  it('explains a model with no versions in the store', async () => {
    const r = registry({ ghost: { module: './scale.mjs' } })
    await r.loadAll()
    expect(r.get('ghost')?.error).toMatch(/no versions of "ghost"/)
  })

  it('answers model_not_found for an unknown id, listing the known ones', async () => {
    const r = registry({ scale: { module: './scale.mjs' } })
    expect(() => createPredictor(r).predict({ modelId: 'x', features: {}, requestId: 't' }, signal)).toThrow(
      expect.objectContaining({ code: 'model_not_found', message: 'model "x" not found (known: scale)' }),
    )
  })

  it('unloads every version on unloadAll', async () => {
    const before = (globalThis as { __unloaded?: number }).__unloaded ?? 0
    const r = registry({ scale: { module: './scale.mjs' } })
    await r.loadAll()
    await r.unloadAll()
    expect(r.get('scale')?.serving).toBeUndefined()
    expect((globalThis as { __unloaded?: number }).__unloaded).toBe(before + 1)
  })
})
