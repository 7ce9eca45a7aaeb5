import { ServekitError } from '../../errors.js'

/**
 * Request features -> one row in the model's feature order, NaN for missing. JSON has no NaN, so
 * `null` (or an absent key) is how clients say "missing"; LightGBM then applies each split's
 * missing-value rule.
 */

export interface FeatureLayout {
  readonly names: readonly string[]
  readonly index: ReadonlyMap<string, number>
}

export function featureLayout(names: readonly string[]): FeatureLayout {
  return { names, index: new Map(names.map((name, i) => [name, i])) }
}

/**
 * Accepts an array of `names.length` numbers or nulls (typed arrays too), or an object keyed by
 * feature name. `where` prefixes messages, e.g. `features[3]` in a batch.
 */
export function toFeatureRow(features: unknown, layout: FeatureLayout, where = 'features'): Float64Array {
  const n = layout.names.length
  const row = new Float64Array(n)
  if (Array.isArray(features) || (ArrayBuffer.isView(features) && !(features instanceof DataView))) {
    const values = features as ArrayLike<unknown>
    if (values.length !== n) {
      throw invalid(`${where} must have ${n} values (one per feature: ${preview(layout.names)}), got ${values.length}`)
    }
    for (let i = 0; i < n; i++) row[i] = toValue(values[i], `${where}[${i}]`, layout.names[i] ?? String(i))
    return row
  }
  if (features !== null && typeof features === 'object') {
    row.fill(Number.NaN)
    for (const [key, value] of Object.entries(features)) {
      const i = layout.index.get(key)
      if (i === undefined) throw invalid(`${where}: unknown feature "${key}" (known: ${preview(layout.names)})`, key)
      row[i] = toValue(value, `${where}.${key}`, key)
    }
    return row
  }
  throw invalid(`${where} must be an array of ${n} numbers (null = missing) or an object keyed by feature name`)
}

function toValue(value: unknown, path: string, feature: string): number {
  if (value === null || value === undefined) return Number.NaN
  if (typeof value === 'number') return value
  throw invalid(`${path} (feature "${feature}") must be a number or null, got ${describe(value)}`, feature)
}

function invalid(message: string, feature?: string): ServekitError {
  return new ServekitError('invalid_request', message, feature === undefined ? undefined : { details: { feature } })
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`
  return Array.isArray(value) ? 'array' : typeof value
}

function preview(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, … (${names.length} in all)`
}
