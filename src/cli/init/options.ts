import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { isSafeName } from '../../config/schema.js'
import { TEMPLATES, findTemplate } from './templates.js'

/** A problem with what the user asked for: printed as one message, exit code 1, nothing written. */
export class InitError extends Error {
  override readonly name = 'InitError'
}

/** The flags of `servekit init`, as given (any may be missing). */
export interface InitFlags {
  dir?: string
  name?: string
  team?: string
  model?: string
  modelId?: string
  org?: string
  servekit?: string
  yes?: boolean
  dryRun?: boolean
}

/** Everything init needs, validated. */
export interface InitOptions {
  /** Absolute path of the directory to create. */
  readonly dir: string
  readonly name: string
  readonly team: string
  /** Template name (`--model`). */
  readonly model: string
  readonly modelId: string
  /** GitHub organisation: CODEOWNERS `@org/team` and the image `ghcr.io/org/name`. */
  readonly org: string
  /** The `servekit` dependency of the generated package.json: a range, or `file:` for a local checkout. */
  readonly servekit: string
}

/** Used in CODEOWNERS and the image name when `--org` is not given; the README says to replace it. */
export const PLACEHOLDER_ORG = 'your-org'

/** RFC 1123 label, as Kubernetes requires for object names and label values of this kind. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_LABEL_RULE = '1-63 lowercase letters, digits and "-", starting and ending with a letter or digit'
/** GitHub organisation or user name. */
const GITHUB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/

const show = (value: string): string => JSON.stringify(value)

/** Each check returns why the value is refused, or undefined when it is fine. */
export function checkName(value: string): string | undefined {
  if (value.length <= 63 && DNS_LABEL.test(value)) return undefined
  return `--name ${show(value)} is not a valid service name: use ${DNS_LABEL_RULE} (it names the npm package, the image and the Kubernetes objects)`
}

export function checkTeam(value: string): string | undefined {
  if (value.length <= 63 && DNS_LABEL.test(value)) return undefined
  return `--team ${show(value)} is not a valid team name: use ${DNS_LABEL_RULE} (it is a Kubernetes label value and a GitHub team in CODEOWNERS)`
}

export function checkModel(value: string): string | undefined {
  if (findTemplate(value) !== undefined) return undefined
  return `--model ${show(value)} is not a template: choose one of ${TEMPLATES.map((t) => t.name).join(', ')} (servekit init --list-templates)`
}

export function checkModelId(value: string): string | undefined {
  if (isSafeName(value)) return undefined
  return `--model-id ${show(value)} is not a valid model id: use 1-128 letters, digits, "_", "-" or ".", starting with a letter or digit, without ".."`
}

export function checkOrg(value: string): string | undefined {
  if (GITHUB_NAME.test(value)) return undefined
  return `--org ${show(value)} is not a GitHub organisation name: use letters, digits and single "-" (at most 39)`
}

/** Throws the first problem found among the flags that were given. */
export function checkGivenFlags(flags: InitFlags): void {
  const problems = [
    flags.name === undefined ? undefined : checkName(flags.name),
    flags.team === undefined ? undefined : checkTeam(flags.team),
    flags.model === undefined ? undefined : checkModel(flags.model),
    flags.modelId === undefined ? undefined : checkModelId(flags.modelId),
    flags.org === undefined ? undefined : checkOrg(flags.org),
  ].filter((p): p is string => p !== undefined)
  if (problems.length > 0) throw new InitError(problems.join('\n'))
}

/**
 * The spec of the `servekit` dependency: `^<version>` by default; `--servekit` may give a range, a
 * tag, or a local checkout or `npm pack` tarball (a path, or `file:<path>`), made absolute so the
 * generated repository installs wherever it is.
 */
export function servekitSpec(flag: string | undefined, version: string, cwd: string): string {
  if (flag === undefined) return `^${version}`
  const spec = flag.trim()
  if (spec === '' || /\s/.test(spec)) throw new InitError(`--servekit ${show(flag)} is not a dependency spec: give a version range, or a path to a servekit checkout or tarball`)
  const path = spec.startsWith('file:') ? spec.slice('file:'.length) : looksLikePath(spec) ? spec : undefined
  if (path === undefined) return spec
  const absolute = isAbsolute(path) ? path : resolve(cwd, path)
  if (!existsSync(absolute)) throw new InitError(`--servekit ${show(flag)}: ${absolute} does not exist`)
  return `file:${absolute}`
}

const looksLikePath = (s: string): boolean => s.startsWith('.') || s.startsWith('/') || s.endsWith('.tgz') || s.endsWith('.tar.gz')
