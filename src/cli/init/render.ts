import { extname } from 'node:path'
import type { InitOptions } from './options.js'
import { findTemplate } from './templates.js'

/**
 * Placeholders: a template file says `{{name}}` where the service name goes. The replacement is a
 * plain lookup in this table, nothing else: no expressions, no conditionals. `${{ ... }}` (GitHub
 * Actions expressions) is left alone.
 */
export type Tokens = Readonly<Record<string, string>>

export const TOKEN_PATTERN = /(?<!\$)\{\{([a-z_]+)\}\}/g

/** The value of every placeholder, from the options. */
export function tokensFor(options: InitOptions, now: Date): Tokens {
  const template = findTemplate(options.model)
  return {
    name: options.name,
    team: options.team,
    org: options.org,
    model_id: options.modelId,
    image: `ghcr.io/${options.org.toLowerCase()}/${options.name}`,
    example_features: JSON.stringify(template?.exampleFeatures ?? {}),
    created_at: now.toISOString(),
  }
}

/** Replaces every `{{token}}`; an unknown token is a template bug and throws, naming the file. */
export function renderText(text: string, tokens: Tokens, file: string): string {
  return text.replace(TOKEN_PATTERN, (_, key: string) => {
    if (!Object.hasOwn(tokens, key)) throw new Error(`template ${file}: unknown placeholder {{${key}}} (known: ${Object.keys(tokens).join(', ')})`)
    return tokens[key]!
  })
}

/** The placeholders a text uses. */
export function tokensIn(text: string): string[] {
  return [...text.matchAll(TOKEN_PATTERN)].map((m) => m[1]!)
}

/**
 * Dotfiles are stored under another name: npm leaves `.gitignore` and `.npmrc` out of the published
 * package, and a `.gitignore` inside templates/ would apply to servekit's own repository.
 */
export const RENAMED_ON_COPY: Readonly<Record<string, string>> = {
  _gitignore: '.gitignore',
  _npmrc: '.npmrc',
  _dockerignore: '.dockerignore',
  _github: '.github',
}

/** A path segment standing for the model id: `models/__model__/1/` becomes `models/churn/1/`. */
export const MODEL_SEGMENT = '__model__'

/** Where a template file goes in the generated repository (both POSIX-relative). */
export function outputPath(templatePath: string, modelId: string): string {
  return templatePath
    .split('/')
    .map((segment) => {
      const renamed = RENAMED_ON_COPY[segment] ?? segment
      const ext = extname(renamed)
      return renamed.slice(0, renamed.length - ext.length) === MODEL_SEGMENT ? modelId + ext : renamed
    })
    .join('/')
}

/** Files copied byte for byte: model files, never scanned for placeholders. */
export const BINARY_EXTENSIONS: ReadonlySet<string> = new Set(['.onnx', '.ubj'])

export const isBinary = (path: string): boolean => BINARY_EXTENSIONS.has(extname(path))
