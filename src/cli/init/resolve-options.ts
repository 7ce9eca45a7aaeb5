import { basename, resolve } from 'node:path'
import { PLACEHOLDER_ORG, InitError, checkGivenFlags, checkModel, checkName, checkOrg, checkTeam, servekitSpec, type InitFlags, type InitOptions } from './options.js'
import { ask, type PromptFn, type Question } from './prompt.js'
import { DEFAULT_TEMPLATE, TEMPLATES, findTemplate } from './templates.js'

export interface ResolveContext {
  /** Asks for missing values; only used when `interactive`. */
  readonly prompt?: PromptFn
  /** True when stdin is a terminal: missing flags are asked for instead of being an error. */
  readonly interactive: boolean
  readonly cwd: string
  /** This servekit's version: the default dependency range. */
  readonly version: string
  /** Where prompt feedback (a refused answer) goes. */
  readonly say: (line: string) => void
}

/**
 * Turns the flags into validated options. A given flag is checked first (a bad one fails before any
 * question). A missing one is asked for on a terminal, taken from its default with `--yes`, and is
 * an error otherwise (CI must pass flags); `--team` has no default.
 */
export async function resolveOptions(flags: InitFlags, ctx: ResolveContext): Promise<InitOptions> {
  checkGivenFlags(flags)
  const prompting = ctx.interactive && flags.yes !== true && ctx.prompt !== undefined
  const dirName = flags.dir === undefined ? undefined : basename(resolve(ctx.cwd, flags.dir))
  const missing: Array<{ flag: string; hasDefault: boolean }> = []

  const value = async (given: string | undefined, question: Question, check: (v: string) => string | undefined, required: boolean): Promise<string> => {
    if (given !== undefined) return given
    if (prompting) return ask(ctx.prompt!, question, check, ctx.say)
    if (question.default !== undefined && (flags.yes === true || !required)) return question.default
    missing.push({ flag: `--${question.key}`, hasDefault: question.default !== undefined })
    return ''
  }

  const nameDefault = dirName !== undefined && checkName(dirName) === undefined ? dirName : undefined
  const name = await value(flags.name, { key: 'name', message: 'Service name (npm package, image and Kubernetes names)', ...(nameDefault && { default: nameDefault }) }, checkName, true)
  const team = await value(flags.team, { key: 'team', message: 'Owning team (Kubernetes label, CODEOWNERS)' }, checkTeam, true)
  const model = await value(
    flags.model,
    { key: 'model', message: 'Model template (servekit init --list-templates describes them)', default: DEFAULT_TEMPLATE, choices: TEMPLATES.map((t) => t.name) },
    checkModel,
    false,
  )
  const org = await value(flags.org, { key: 'org', message: 'GitHub organisation (CODEOWNERS, image registry)', default: PLACEHOLDER_ORG }, checkOrg, false)
  if (missing.length > 0) {
    const flagsList = missing.map((m) => m.flag).join(' and ')
    const yesHint = missing.every((m) => m.hasDefault) ? ', or --yes to take the defaults' : ''
    throw new InitError(`missing ${flagsList}: stdin is not a terminal, so init does not ask; pass ${flagsList}${yesHint}`)
  }

  const template = findTemplate(model)!
  const dir = resolve(ctx.cwd, flags.dir ?? name)
  return { dir, name, team, model, modelId: flags.modelId ?? template.modelId, org, servekit: servekitSpec(flags.servekit, ctx.version, ctx.cwd) }
}
