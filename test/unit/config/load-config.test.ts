import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig, validateConfig } from '../../../src/config/load-config.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-config-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const write = async (name: string, text: string) => {
  const file = join(dir, name)
  await writeFile(file, text)
  return file
}

describe('loadConfig', () => {
  it('imports a TypeScript config and fills every default', async () => {
    const file = await write('servekit.config.ts', `const port: number = 9000\nexport default { models: { m: { module: './m.ts' } }, server: { port } }\n`)
    const loaded = await loadConfig(file)
    expect(loaded.file).toBe(file)
    expect(loaded.config.store).toBe('./models')
    expect(loaded.config.server).toMatchObject({ port: 9000, host: '0.0.0.0', workers: 0, bodyLimit: 1048576, maxBatchItems: 1000 })
    expect(loaded.config.models['m']).toEqual({ module: './m.ts', versions: 'latest', aliases: {}, options: {}, selfTest: 'block', compatibility: 'block', timeoutMs: 1000, concurrency: { max: 64, queue: 256 }, shadow: [] })
  })

  it('names the file and the bad field when validation fails', async () => {
    const file = await write('servekit.config.ts', `export default { models: { m: { module: './m.ts', versions: '../etc' } }, server: { port: 'http' } }\n`)
    const err = await loadConfig(file).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'config_invalid' })
    const message = (err as Error).message
    expect(message).toContain(file)
    expect(message).toContain('models.m.versions')
    expect(message).toContain('server.port')
  })

  it('rejects unknown keys so typos do not pass silently', () => {
    expect(() => validateConfig({ models: { m: {} }, sever: {} }, '/x/servekit.config.ts')).toThrow(/sever|Unrecognized key/)
  })

  it('rejects model ids that could leave the store directory', () => {
    expect(() => validateConfig({ models: { '../x': {} } }, '/x/c.ts')).toThrow(/model id/)
  })

  it('rejects a model with both module and framework', () => {
    expect(() => validateConfig({ models: { m: { module: './m.ts', framework: 'onnx' } } }, '/x/c.ts')).toThrow(/either "module" or "framework"/)
  })

  it('reports a missing file with its absolute path', async () => {
    await expect(loadConfig(join(dir, 'nope.ts'))).rejects.toMatchObject({ code: 'config_invalid', message: `config file not found: ${join(dir, 'nope.ts')}` })
  })

  it('reports a config without a default export', async () => {
    const file = await write('servekit.config.ts', `export const models = {}\n`)
    await expect(loadConfig(file)).rejects.toThrow(/no default export/)
  })
})
