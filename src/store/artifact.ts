import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { ServekitError } from '../errors.js'
import type { Artifact } from '../model/interface.js'
import { manifestSchema, type Manifest } from './manifest.js'

const MANIFEST_FILE = 'model.json'

/** Opens a local version directory as an Artifact: reads and checks its `model.json` if present. */
export async function openArtifact(dir: string, name: string, version: string): Promise<Artifact> {
  const root = resolve(dir)
  const manifest = await readManifest(root)
  const path = (file: string): string => {
    const full = resolve(root, file)
    const rel = relative(root, full)
    if (isAbsolute(file) || rel.startsWith('..') || rel === '' || rel.split(sep).includes('..')) {
      throw new ServekitError('model_load_failed', `artifact file "${file}" is outside ${root}`)
    }
    return full
  }
  const readBytes = async (file: string): Promise<Uint8Array> => {
    const full = path(file)
    try {
      return await readFile(full)
    } catch (err) {
      throw new ServekitError('model_load_failed', `cannot read ${full}: ${(err as Error).message}`, { cause: err })
    }
  }
  const readText = async (file: string): Promise<string> => Buffer.from(await readBytes(file)).toString('utf8')
  const readJson = async <T>(file: string): Promise<T> => {
    const text = await readText(file)
    try {
      return JSON.parse(text) as T
    } catch (err) {
      throw new ServekitError('model_load_failed', `${path(file)} is not valid JSON: ${(err as Error).message}`, { cause: err })
    }
  }
  return { name, version, dir: root, manifest, path, readBytes, readText, readJson }
}

async function readManifest(root: string): Promise<Manifest> {
  const file = join(root, MANIFEST_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ServekitError('model_load_failed', `cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ServekitError('model_load_failed', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  const parsed = manifestSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ServekitError('model_load_failed', `${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}
