import { ServekitError } from '../../errors.js'

/**
 * Request features -> one row in the model's feature order, NaN for missing. JSON has no NaN, so
 * `null` (or an absent key) is how clients say "missing"; each split's default direction then
 * decides, as in XGBoost.
 */
export interface FeatureLayout {
  readonly count: number
  /** Feature order for object features; undefined when neither the model nor the config names them. */
  readonly names: readonly string[] | undefined
  readonly index: ReadonlyMap<string, number> | undefined
  /** Scratch row reused by every call: prediction is synchronous, one row at a time. */
  readonly row: Float64Array
}

export function featureLayout(count: number, names: readonly string[] | undefined): FeatureLayout {
  return {
    count,
    names,
    index: names && new Map(names.map((name, i) => [name, i])),
    row: new Float64Array(count),
  }
}

/**
 * Accepts an array (or typed array) of `count` numbers or nulls, or an object keyed by feature
 * name. `where` prefixes messages, e.g. `features[3]` in a batch. Returns the layout's scratch row,
 * valid until the next call.
 */
export function toFeatureRow(features: unknown, layout: FeatureLayout, where = 'features'): Float64Array {
  const { count, names, index, row } = layout
  if (Array.isArray(features) || (ArrayBuffer.isView(features) && !(features instanceof DataView))) {
    const values = features as ArrayLike<unknown>
    if (values.length !== count) {
      const order = names ? ` (${preview(names)})` : ''
      throw invalid(`${where} must have ${count} values, one per feature${order}, got ${values.length}`)
    }
    for (let i = 0; i < count; i++) row[i] = toValue(values[i], `${where}[${i}]`, names?.[i] ?? `f${i}`)
    return row
  }
  if (features !== null && typeof features === 'object') {
    if (!index || !names) {
      throw invalid(`${where}: this model has no feature names, so features must be an array of ${count} numbers (or set options.feature_names)`)
    }
    row.fill(Number.NaN)
    for (const key in features) {
      if (!Object.hasOwn(features, key)) continue
      const i = index.get(key)
      if (i === undefined) throw invalid(`${where}: unknown feature "${key}" (known: ${preview(names)})`, key)
      row[i] = toValue((features as Record<string, unknown>)[key], `${where}.${key}`, key)
    }
    return row
  }
  throw invalid(`${where} must be an array of ${count} numbers (null = missing)${names ? ' or an object keyed by feature name' : ''}`)
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
