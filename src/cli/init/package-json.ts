/**
 * The generated package.json is edited as data: the base template's file is parsed, the model
 * template's fragment (extra dependencies, scripts) merged into it, and the service's fields set.
 */
export interface PackageJsonFields {
  readonly name: string
  readonly team: string
  /** The `servekit` dependency spec. */
  readonly servekit: string
}

type Json = Record<string, unknown>

export const PACKAGE_JSON = 'package.json'

/** Parses a template's package.json, naming it when it is not a JSON object. */
export function parsePackageJson(text: string, file: string): Json {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new Error(`template ${file}: not valid JSON: ${(err as Error).message}`)
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error(`template ${file}: must be a JSON object`)
  return data as Json
}

/** `base` with `overlay` merged in: objects merge key by key, anything else is replaced. */
export function mergeJson(base: Json, overlay: Json): Json {
  const out: Json = { ...base }
  for (const [key, value] of Object.entries(overlay)) {
    const current = out[key]
    out[key] = isObject(current) && isObject(value) ? mergeJson(current, value) : value
  }
  return out
}

/** The final package.json text: the service's name and description, servekit's spec, dependencies sorted. */
export function finishPackageJson(pkg: Json, fields: PackageJsonFields): string {
  const out: Json = { ...pkg, name: fields.name, description: `${fields.name}: model-serving service of team ${fields.team} (servekit)` }
  out['dependencies'] = sortKeys({ ...asObject(pkg['dependencies']), servekit: fields.servekit })
  if (isObject(pkg['devDependencies'])) out['devDependencies'] = sortKeys(pkg['devDependencies'])
  return JSON.stringify(out, null, 2) + '\n'
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v)
const asObject = (v: unknown): Json => (isObject(v) ? v : {})
const sortKeys = (o: Json): Json => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
