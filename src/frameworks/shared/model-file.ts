import { ServekitError } from '../../errors.js'
import type { Artifact } from '../../model/interface.js'

/**
 * The model file a built-in class should read, when one is named: `options.file` (from the config)
 * wins over `file` in model.json; both must be non-empty strings. Undefined when neither is set,
 * so each class applies its own default.
 */
export function configuredModelFile(artifact: Artifact, options: Readonly<Record<string, unknown>>): string | undefined {
  for (const [source, value] of [
    ['options.file', options['file']],
    ['model.json "file"', artifact.manifest['file']],
  ] as const) {
    if (value === undefined) continue
    if (typeof value !== 'string' || value === '') {
      throw new ServekitError('model_load_failed', `${artifact.name}@${artifact.version}: ${source} must be a non-empty string`)
    }
    return value
  }
  return undefined
}
