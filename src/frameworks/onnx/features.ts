import { ServekitError } from '../../errors.js'
import type { Signature, TensorSpec } from './signature.js'
import { formatShape, readExample, type ExampleValue } from './tensors.js'

/**
 * How one request's `features` become one example per model input. Three forms are accepted:
 *
 * - named tensors, `{ "<input>": [[...]] }`: one (nested or flat) array or scalar per input;
 * - a bare array, for a model with one input: the same as `{ "<input>": [...] }`;
 * - a flat record, `{ "mean_radius": 17.99, ... }`, when a feature order is declared: the values
 *   are laid out in that order into the model's single input, which must take `[batch, n]`.
 */

export interface FeatureLayout {
  readonly order: readonly string[]
  readonly input: TensorSpec
}

/** Checks a declared feature order against the model: one input, `n` wide, names unique. */
export function featureLayout(order: readonly string[], signature: Signature, where: string): FeatureLayout {
  const fail = (problem: string): ServekitError => new ServekitError('model_load_failed', `${where}: feature_order ${problem}`)
  const [input, ...others] = signature.inputs
  if (input === undefined || others.length > 0) {
    throw fail(`needs a model with exactly one input; this one has ${signature.inputs.map((s) => s.name).join(', ') || 'none'}`)
  }
  const seen = new Set<string>()
  for (const name of order) {
    if (seen.has(name)) throw fail(`lists "${name}" twice`)
    seen.add(name)
  }
  const example = input.example
  const width = example?.[0]
  const fitsWidth = example === null || (example.length === 1 && (typeof width === 'string' || width === order.length || (width ?? 0) < 0))
  if (!fitsWidth) {
    throw fail(`has ${order.length} names but input "${input.name}" takes ${formatShape(input.declared)}; a flat record fills an input of shape [batch, ${order.length}]`)
  }
  return { order, input }
}

/** `field` is the offending value's path in the request (the first one, when several are). */
const invalid = (message: string, field?: string, details?: Record<string, unknown>): ServekitError =>
  new ServekitError('invalid_request', message, field === undefined ? undefined : { details: { field, ...details } })

const list = (names: readonly string[], max = 5): string =>
  names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} (and ${names.length - max} more)`

/** One example's converted value for every model input, keyed by input name. */
export function toExample(features: unknown, signature: Signature, layout: FeatureLayout | null): Map<string, ExampleValue> {
  const inputs = signature.inputs
  const names = inputs.map((s) => s.name)
  if (Array.isArray(features)) {
    const [only] = inputs
    if (only === undefined || inputs.length > 1) {
      throw invalid(`features must be an object keyed by input name (inputs: ${list(names)}), got an array`)
    }
    return new Map([[only.name, readExample(only.name, only.type, only.example, features, { path: 'features' })]])
  }
  if (features === null || typeof features !== 'object') {
    const expected = layout === null ? `input name (inputs: ${list(names)})` : 'feature name or by input name'
    throw invalid(`features must be an object keyed by ${expected}, got ${features === null ? 'null' : typeof features}`)
  }
  const record = features as Record<string, unknown>
  const keys = Object.keys(record)
  if (layout !== null && (keys.length === 0 || !keys.every((k) => names.includes(k)))) return fromRecord(record, keys, layout)

  const unknown = keys.filter((k) => !names.includes(k))
  if (unknown.length > 0) {
    const hint = layout === null ? '; to send named features, declare feature_order in the options or model.json' : ''
    throw invalid(`unknown input ${list(unknown.map((k) => `"${k}"`))} (inputs: ${list(names)})${hint}`, `features.${unknown[0]}`)
  }
  const missing = names.filter((n) => !Object.hasOwn(record, n))
  if (missing.length > 0) throw invalid(`missing input ${list(missing.map((k) => `"${k}"`))} (inputs: ${list(names)})`, `features.${missing[0]}`, { missing })
  return new Map(inputs.map((s) => [s.name, readExample(s.name, s.type, s.example, record[s.name])]))
}

function fromRecord(record: Record<string, unknown>, keys: readonly string[], layout: FeatureLayout): Map<string, ExampleValue> {
  const { order, input } = layout
  const known = new Set(order)
  const unknown = keys.filter((k) => !known.has(k))
  if (unknown.length > 0) {
    throw invalid(`unknown feature ${list(unknown.map((k) => `"${k}"`))} (feature_order has ${order.length}: ${list(order)})`, `features.${unknown[0]}`)
  }
  const missing = order.filter((n) => !Object.hasOwn(record, n))
  if (missing.length > 0) throw invalid(`missing feature ${list(missing.map((k) => `"${k}"`))}`, `features.${missing[0]}`)
  const row = order.map((n) => {
    const value = record[n]
    if (typeof value === 'object' && value !== null) throw invalid(`feature "${n}": expected a single value, got ${Array.isArray(value) ? 'an array' : 'an object'}`)
    return value
  })
  const at = { path: 'features', label: (i: number) => `feature "${order[i]}"`, field: (i: number) => `features.${order[i]}` }
  return new Map([[input.name, readExample(input.name, input.type, input.example, row, at)]])
}
