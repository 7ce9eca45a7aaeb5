import { relative, resolve } from 'node:path'
import { PLACEHOLDER_ORG, type InitFlags, type InitOptions } from './options.js'
import { planFiles, type PlannedFile } from './plan.js'
import type { PromptFn } from './prompt.js'
import { tokensFor } from './render.js'
import { resolveOptions } from './resolve-options.js'
import { checkTargetDir } from './target-dir.js'
import { TEMPLATES_DIR } from './templates.js'
import { writeFiles } from './write-files.js'

export interface InitDeps {
  /** Asks for missing values when `interactive`. */
  readonly prompt?: PromptFn
  /** stdin is a terminal. */
  readonly interactive: boolean
  readonly cwd: string
  /** This servekit's version (the default dependency range). */
  readonly version: string
  /** Prompt feedback (a refused answer). */
  readonly say: (line: string) => void
  /** The time stamped into stored expectations; now by default. */
  readonly now?: Date
  readonly templatesDir?: string
}

export interface InitResult {
  readonly options: InitOptions
  readonly files: readonly PlannedFile[]
  /** False for `--dry-run`. */
  readonly written: boolean
}

/**
 * `servekit init`: options (flags, else prompts), a check that the target directory is new or empty,
 * the file plan from the templates, then the writes. Every check happens before the first write, so
 * a refusal leaves nothing behind.
 */
export async function runInit(flags: InitFlags, deps: InitDeps): Promise<InitResult> {
  // A target given on the command line is checked before any question is asked.
  if (flags.dir !== undefined) await checkTargetDir(resolve(deps.cwd, flags.dir))
  const options = await resolveOptions(flags, { prompt: deps.prompt, interactive: deps.interactive, cwd: deps.cwd, version: deps.version, say: deps.say })
  await checkTargetDir(options.dir)
  const files = await planFiles(options, tokensFor(options, deps.now ?? new Date()), deps.templatesDir ?? TEMPLATES_DIR)
  if (flags.dryRun === true) return { options, files, written: false }
  await writeFiles(options.dir, files)
  return { options, files, written: true }
}

/** What init prints: what it made (or would make), and what to do next. */
export function formatSummary(result: InitResult, cwd: string): string {
  const { options, files, written } = result
  const where = relative(cwd, options.dir) || '.'
  const shown = where.startsWith('..') ? options.dir : where
  const lines = [
    `${written ? 'Created' : 'Dry run: would create'} ${options.name} (team ${options.team}, template ${options.model}, model ${options.modelId}) in ${shown}: ${files.length} files`,
    ...files.map((f) => `  ${f.path}`),
  ]
  if (!written) {
    lines.push('Nothing written (--dry-run).')
  } else {
    lines.push(
      '',
      'Next:',
      ...(shown === '.' ? [] : [`  cd ${shown}`]),
      '  npm install       # then commit package-lock.json',
      '  npm test          # servekit test (stored expectations) and the service tests',
      '  npm run dev       # serves on http://localhost:8080',
      'README.md explains developing, adding a model, publishing a version and deploying.',
    )
  }
  if (options.org === PLACEHOLDER_ORG) {
    lines.push(`Note: CODEOWNERS and deploy/kustomization.yaml name the GitHub organisation "${PLACEHOLDER_ORG}"; pass --org <org> or edit them.`)
  }
  return lines.join('\n') + '\n'
}
