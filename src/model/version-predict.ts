import { isServekitError, ServekitError } from '../errors.js'
import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { AnyModelClass, PredictContext } from './interface.js'
import { toPromise, type MaybePromise } from './maybe-promise.js'

/**
 * A loaded version's predict: schema check, the model's predict, output check. Same path for
 * requests and self-tests. Synchronous (a value, or a throw) when the schema and the model are.
 */
export type VersionPredict = (features: unknown, context: PredictContext) => MaybePromise<unknown>
/** Many at once: each item gets its output or its own error, in order. */
export type VersionPredictBatch = (features: readonly unknown[], context: PredictContext) => Promise<Array<{ output: unknown } | { error: ServekitError }>>

/** Errors a version's predict gave (thrown, rejected or per batch item), and that version. */
const FAILED_ON = new WeakMap<object, string>()

/**
 * The version whose predict failed with `err`, when a version's predict gave it: the HTTP layer
 * labels the error's answer with it (metrics, access log) as it labels a success, so a version
 * that fails shows in its own series. Undefined for errors from before a version was reached
 * (unknown model, shedding) and from the deadline (a timeout answers for whatever was running).
 */
export function versionThatFailed(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? FAILED_ON.get(err) : undefined
}

/**
 * Builds the per-version predict functions once, at load time, so the request path does not branch on
 * what the model class declares. `version` marks the errors they give (versionThatFailed).
 */
export function createVersionPredict(label: string, model: AnyModelClass, instance: unknown, version: string): { predict: VersionPredict; predictBatch: VersionPredictBatch } {
  const validate = createValidator(label, model)
  /** `err`, marked as this version's (a thrown non-object cannot be, and stays unmarked). */
  const marked = <E>(err: E): E => {
    if (typeof err === 'object' && err !== null) FAILED_ON.set(err, version)
    return err
  }
  /** What the model's predict throws or rejects with, as a marked ServekitError. */
  const failed = (err: unknown): ServekitError => marked(asPredictionError(label, err))
  // Built once here, not per request: the continuations of an asynchronous model or schema.
  const checked = (output: unknown): unknown => {
    try {
      return checkOutput(label, output)
    } catch (err) {
      throw failed(err)
    }
  }
  const rethrow = (err: unknown): never => {
    throw failed(err)
  }
  /** An asynchronous schema's rejection, as it is (like a synchronous one's throw), marked. */
  const rethrowMarked = (err: unknown): never => {
    throw marked(err)
  }

  // The model on validated input. A synchronous model (most are) answers synchronously: its checked
  // output, or a throw of what `await` would have rejected with.
  const run = (input: unknown, context: PredictContext): MaybePromise<unknown> => {
    let output: unknown
    try {
      output = model.predict(instance, input, context)
    } catch (err) {
      throw failed(err)
    }
    if (isThenable(output)) return Promise.resolve(output).then(checked, rethrow)
    return checked(output)
  }

  const predict: VersionPredict =
    validate === undefined
      ? run
      : (features, context) => {
          let input: unknown
          try {
            input = validate(features)
          } catch (err) {
            throw marked(err)
          }
          // An asynchronous schema (rare): continue once it settles.
          return isThenable(input) ? Promise.resolve(input).then((value) => run(value, context), rethrowMarked) : run(input, context)
        }
  /** A batch item's error, marked as this version's. */
  const failedItem = (err: unknown): { error: ServekitError } => ({ error: marked(fail(err).error) })

  const batchFn = model.predictBatch
  const predictBatch: VersionPredictBatch =
    batchFn === undefined
      ? async (list, context) => Promise.all(list.map((f) => toPromise(() => predict(f, context)).then(ok, fail)))
      : async (list, context) => {
          const results: Array<{ output: unknown } | { error: ServekitError }> = new Array(list.length)
          const valid: unknown[] = []
          const slots: number[] = []
          for (let i = 0; i < list.length; i++) {
            try {
              valid.push(validate === undefined ? list[i] : await validate(list[i]))
              slots.push(i)
            } catch (err) {
              results[i] = failedItem(err)
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
                  results[slot] = failedItem(err)
                }
              })
            } catch (err) {
              const error = failed(err)
              for (const slot of slots) results[slot] = { error }
            }
          }
          return results
        }
  return { predict, predictBatch }
}

const ok = (output: unknown) => ({ output })
const fail = (err: unknown) => ({ error: isServekitError(err) ? err : new ServekitError('internal_error', String(err), { cause: err }) })

/**
 * The version's input check: the validated (maybe transformed) features, or a throw of
 * `invalid_request`. Synchronous unless the schema is asynchronous (then a promise).
 */
function createValidator(label: string, model: AnyModelClass): ((features: unknown) => unknown) | undefined {
  const schema = model.inputSchema
  if (schema === undefined) return undefined
  const std = schema['~standard']
  const settle = (result: StandardSchemaV1.Result<unknown>): unknown => {
    if (result.issues === undefined) return result.value
    throw invalidFeatures(label, result.issues)
  }
  return (features) => {
    const result = std.validate(features)
    return result instanceof Promise ? result.then(settle) : settle(result)
  }
}

function invalidFeatures(label: string, issues: ReadonlyArray<StandardSchemaV1.Issue>): ServekitError {
  const where = (i: StandardSchemaV1.Issue): string => {
    const path = i.path?.map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.') ?? ''
    return `features${path ? '.' + path : ''}`
  }
  const shown = issues.slice(0, 3).map((i) => `${where(i)}: ${i.message}`)
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''
  const first = issues[0]
  return new ServekitError('invalid_request', `${shown.join('; ')}${more} (model ${label})`, {
    details: { field: first ? where(first) : 'features' },
  })
}

/** What `await` would wait for: an object or function with a callable `then`. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
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
  if (typeof output === 'object' && output !== null) {
    const problem = unserialisable(output)
    if (problem !== undefined) throw new ServekitError('invalid_output', `${label}: predict returned ${problem}`)
  }
  return output
}

/** Deeper than this, JSON.stringify would overflow the stack (and no model output is that deep). */
const MAX_OUTPUT_DEPTH = 1000

/**
 * Finds what JSON cannot carry deep inside an output: a NaN or an infinity (JSON.stringify would
 * quietly send null), a BigInt, a cycle, absurd nesting (it would throw). One walk over plain
 * objects and arrays, no allocation unless something is wrong; values with toJSON (Date) are left
 * to JSON, typed arrays only checked for BigInts and non-finite floats. Returns a description naming
 * the path.
 */
function unserialisable(root: object): string | undefined {
  if (isFlat(root)) return undefined
  const ancestors: object[] = []
  const keys: Array<string | number> = []
  const at = (): string => `output${keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`
  const visit = (value: unknown): string | undefined => {
    if (typeof value === 'bigint') return `a bigint at ${at()}`
    if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${value} at ${at()}`
    if (typeof value !== 'object' || value === null) return undefined
    if (ArrayBuffer.isView(value)) {
      if (value instanceof BigInt64Array || value instanceof BigUint64Array) return `a BigInt64Array at ${at()}`
      if (value instanceof Float32Array || value instanceof Float64Array) {
        for (let i = 0; i < value.length; i++) if (!Number.isFinite(value[i]!)) return `${value[i]} at ${at()}[${i}]`
      }
      return undefined
    }
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined
    if (ancestors.includes(value)) return `a cycle at ${at()}`
    if (ancestors.length >= MAX_OUTPUT_DEPTH) return `a value nested more than ${MAX_OUTPUT_DEPTH} levels deep`
    ancestors.push(value)
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        keys.push(i)
        const problem = visit(value[i])
        if (problem !== undefined) return problem
        keys.pop()
      }
    } else {
      for (const k of Object.keys(value)) {
        keys.push(k)
        const problem = visit((value as Record<string, unknown>)[k])
        if (problem !== undefined) return problem
        keys.pop()
      }
    }
    ancestors.pop()
    return undefined
  }
  return visit(root)
}

/**
 * The usual output, a plain object or array whose values are finite numbers, strings, booleans or nulls,
 * has nothing to walk: this check allocates nothing (the walk allocates its path and closures).
 * False means "walk it", not "wrong".
 */
function isFlat(o: object): boolean {
  if (ArrayBuffer.isView(o) || typeof (o as { toJSON?: unknown }).toJSON === 'function') return false
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length; i++) {
      const v: unknown = o[i]
      if (typeof v === 'number' ? !Number.isFinite(v) : typeof v === 'object' ? v !== null : typeof v === 'bigint') return false
    }
    return true
  }
  for (const k in o) {
    const v = (o as Record<string, unknown>)[k]
    if (typeof v === 'number' ? !Number.isFinite(v) : typeof v === 'object' ? v !== null : typeof v === 'bigint') return false
  }
  return true
}
