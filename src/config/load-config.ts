import { access } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ServekitError } from '../errors.js'
import { configSchema, type ServiceConfig } from './schema.js'
import { importDefault } from './import-module.js'

/** A validated config plus where it came from; relative paths in it are resolved against `dir`. */
export interface LoadedConfig {
  readonly file: string
  readonly dir: string
  readonly config: ServiceConfig
}

export const DEFAULT_CONFIG_FILE = 'servekit.config.ts'

/**
 * Imports `servekit.config.ts` (TypeScript or JavaScript) and validates it.
 * Throws `config_invalid` with the file and the bad field in the message.
 */
export async function loadConfig(file: string = DEFAULT_CONFIG_FILE): Promise<LoadedConfig> {
  const path = resolve(file)
  try {
    await access(path)
  } catch {
    throw new ServekitError('config_invalid', `config file not found: ${path}`)
  }
  let exported: unknown
  try {
    exported = await importDefault(pathToFileURL(path).href)
  } catch (err) {
    throw new ServekitError('config_invalid', `${path}: cannot import: ${(err as Error).message}`, { cause: err })
  }
  if (exported === undefined) throw new ServekitError('config_invalid', `${path}: no default export (export default defineConfig({...}))`)
  return { file: path, dir: dirname(path), ...validateConfig(exported, path) }
}

/** Validates a config object; `source` names it in error messages. */
export function validateConfig(input: unknown, source: string): { config: ServiceConfig } {
  const parsed = configSchema.safeParse(input)
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 5).map((i) => `  ${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    throw new ServekitError('config_invalid', `${source}: invalid config\n${lines.join('\n')}`)
  }
  return { config: parsed.data }
}
