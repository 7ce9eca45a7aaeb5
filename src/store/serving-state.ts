import { z } from 'zod'
import { isSafeName } from '../config/schema.js'
import { ServekitError } from '../errors.js'
import type { ServingState } from './model-store.js'

export const SERVING_STATE_FILE = 'serving.json'

const name = z.string().refine(isSafeName, 'not a valid version or alias name')
const servingStateSchema = z
  .object({
    default: name.optional(),
    aliases: z.record(name, name).optional(),
    load: z.array(name).optional(),
    unload: z.array(name).optional(),
    experiment: z
      .object({ weights: z.record(name, z.number().nonnegative()), key: z.string().min(1).max(128).optional() })
      .strict()
      .refine((e) => Object.values(e.weights).reduce((a, b) => a + b, 0) > 0, 'experiment weights must sum to more than 0')
      .optional(),
  })
  .strict()

/** Parses `serving.json`; a broken file is an error naming it, never silently ignored. */
export function parseServingState(text: string, source: string): ServingState {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ServekitError('model_load_failed', `${source} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  const parsed = servingStateSchema.safeParse(raw)
  if (!parsed.success) {
    const i = parsed.error.issues[0]
    throw new ServekitError('model_load_failed', `${source}: ${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`)
  }
  return parsed.data
}

/** Stable, reviewable JSON: sorted keys, empty parts left out. */
export function formatServingState(state: ServingState): string {
  const out: Record<string, unknown> = {}
  if (state.default !== undefined) out['default'] = state.default
  if (state.aliases && Object.keys(state.aliases).length > 0) out['aliases'] = Object.fromEntries(Object.entries(state.aliases).sort())
  if (state.load && state.load.length > 0) out['load'] = [...new Set(state.load)].sort()
  if (state.unload && state.unload.length > 0) out['unload'] = [...new Set(state.unload)].sort()
  if (state.experiment) {
    const { weights, key } = state.experiment
    out['experiment'] = { weights: Object.fromEntries(Object.entries(weights).sort()), ...(key === undefined ? {} : { key }) }
  }
  return JSON.stringify(out, null, 2) + '\n'
}
