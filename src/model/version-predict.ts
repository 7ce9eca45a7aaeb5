import { isServekitError, ServekitError } from '../errors.js'
import type { AnyModelClass, PredictContext } from './interface.js'

/** A loaded version's predict: schema check, the model's predict, output check. Same path for requests and self-tests. */
export type VersionPredict = (features: unknown, context: PredictContext) => Promise<unknown>
/** Many at once: each item gets its output or its own error, in order. */
export type VersionPredictBatch = (features: readonly unknown[], context: PredictContext) => Promise<Array<{ output: unknown } | { error: ServekitError }>>

/**
 * Builds the per-version predict functions once, at load time, so the request path does not branch on
 * what the model class declares.
 */
export function createVersionPredict(label: string, model: AnyModelClass, instance: unknown): { predict: VersionPredict; predictBatch: VersionPredictBatch } {
  const validate = createValidator(label, model)
  const predict: VersionPredict = async (features, context) => {
    const input = validate === undefined ? features : await validate(features)
    let output: unknown
    try {
      output = await model.predict(instance, input, context)
    } catch (err) {
      throw asPredictionError(label, err)
    }
    return checkOutput(label, output)
  }

  const batchFn = model.predictBatch
  const predictBatch: VersionPredictBatch =
    batchFn === undefined
      ? async (list, context) => Promise.all(list.map((f) => predict(f, context).then(ok, fail)))
      : async (list, context) => {
          const results: Array<{ output: unknown } | { error: ServekitError }> = new Array(list.length)
          const valid: unknown[] = []
          const slots: number[] = []
          for (let i = 0; i < list.length; i++) {
            try {
              valid.push(validate === undefined ? list[i] : await validate(list[i]))
              slots.push(i)
            } catch (err) {
              results[i] = fail(err)
            }
          }
          if (valid.length > 0) {
            try {
              const outputs = await batchFn.call(model, instance, valid, context)
              if (!Array.isArray(outputs) || outputs.length !== valid.length) {
                throw new ServekitError('invalid_output', `${label}: predictBatch returned ${Array.isArray(outputs) ? outputs.length : typeof outputs} outputs for ${valid.length} inputs`)
              }
              slots.forEach((slot, k) => {
                try {
                  results[slot] = { output: checkOutput(label, outputs[k]) }
                } catch (err) {
                  results[slot] = fail(err)
                }
              })
            } catch (err) {
              const error = asPredictionError(label, err)
              for (const slot of slots) results[slot] = { error }
            }
          }
          return results
        }
  return { predict, predictBatch }
}

const ok = (output: unknown) => ({ output })
const fail = (err: unknown) => ({ error: isServekitError(err) ? err : new ServekitError('internal_error', String(err), { cause: err }) })

function createValidator(label: string, model: AnyModelClass): ((features: unknown) => Promise<unknown>) | undefined {
  const schema = model.inputSchema
  if (schema === undefined) return undefined
  const std = schema['~standard']
  return async (features) => {
    let result = std.validate(features)
    if (result instanceof Promise) result = await result
    if (result.issues === undefined) return result.value
    const where = (i: (typeof result.issues)[number]): string => {
      const path = i.path?.map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.') ?? ''
      return `features${path ? '.' + path : ''}`
    }
    const shown = result.issues.slice(0, 3).map((i) => `${where(i)}: ${i.message}`)
    const more = result.issues.length > 3 ? ` (and ${result.issues.length - 3} more)` : ''
    const first = result.issues[0]
    throw new ServekitError('invalid_request', `${shown.join('; ')}${more} (model ${label})`, {
      details: { field: first ? where(first) : 'features' },
    })
  }
}

/** A throw from user code becomes prediction_failed with its message; our own codes pass through. */
function asPredictionError(label: string, err: unknown): ServekitError {
  if (isServekitError(err)) return err
  const message = err instanceof Error ? err.message : String(err)
  return new ServekitError('prediction_failed', `${label}: predict threw: ${message}`, { cause: err })
}

/** Catches outputs that JSON cannot carry faithfully (undefined, NaN, Infinity) before they reach the wire. */
function checkOutput(label: string, output: unknown): unknown {
  if (output === undefined) throw new ServekitError('invalid_output', `${label}: predict returned undefined`)
  if (typeof output === 'number' && !Number.isFinite(output)) throw new ServekitError('invalid_output', `${label}: predict returned ${output}`)
  if (typeof output === 'bigint' || typeof output === 'function' || typeof output === 'symbol') {
    throw new ServekitError('invalid_output', `${label}: predict returned a ${typeof output}`)
  }
  return output
}
