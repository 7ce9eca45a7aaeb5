import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { InitOptions } from './options.js'
import { PACKAGE_JSON, finishPackageJson, mergeJson, parsePackageJson } from './package-json.js'
import { isBinary, outputPath, renderText, type Tokens } from './render.js'
import { BASE_TEMPLATE, TEMPLATES_DIR } from './templates.js'

/** One file init will write. */
export interface PlannedFile {
  /** POSIX path relative to the generated repository. */
  readonly path: string
  readonly content: string | Buffer
  /** The template file(s) it comes from, relative to templates/. */
  readonly from: readonly string[]
}

/** Every file under `dir`, as POSIX paths relative to it, sorted. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)))
    else if (entry.isFile()) out.push(rel)
  }
  return out.sort()
}

/**
 * The files of the generated repository: templates/base/ with templates/<model>/ laid over it. A
 * model-template file replaces the base file at the same output path, except package.json, whose
 * fragment is merged into the base one. Text files get their placeholders replaced; model files are
 * copied as they are. Nothing is written here.
 */
export async function planFiles(options: InitOptions, tokens: Tokens, templatesDir: string = TEMPLATES_DIR): Promise<PlannedFile[]> {
  const layers = [BASE_TEMPLATE, options.model]
  const files = new Map<string, PlannedFile>()
  let pkg: Record<string, unknown> | undefined
  const pkgFrom: string[] = []

  for (const layer of layers) {
    const root = join(templatesDir, layer)
    for (const rel of await listFiles(root)) {
      const from = `${layer}/${rel}`
      const bytes = await readFile(join(root, rel))
      const path = outputPath(rel, options.modelId)
      if (path === PACKAGE_JSON) {
        const fragment = parsePackageJson(bytes.toString('utf8'), from)
        pkg = pkg === undefined ? fragment : mergeJson(pkg, fragment)
        pkgFrom.push(from)
        continue
      }
      const content = isBinary(rel) ? bytes : renderText(bytes.toString('utf8'), tokens, from)
      files.set(path, { path, content, from: [from] })
    }
  }
  if (pkg !== undefined) {
    files.set(PACKAGE_JSON, { path: PACKAGE_JSON, content: finishPackageJson(pkg, options), from: pkgFrom })
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
