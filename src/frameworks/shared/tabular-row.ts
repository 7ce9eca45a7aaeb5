import { ServekitError } from '../../errors.js'

/**
 * Request features -> one numeric row in the model's feature order, for the tree models (LightGBM,
 * XGBoost). JSON has no NaN, so `null` (or an absent key) is how clients say "missing": the row
 * holds NaN there and each split's missing-value rule decides.
 *
 * Accepted: an array (or typed array) of one number or null per feature, or an object keyed by
 * feature name. A bad value fails with `invalid_request` and `details.field`, its path in the
 * request (`features[3]`, `features.age`; `features[1].age` for item 1 of a batch).
 */

export interface TabularLayout {
  readonly count: number
  /** Feature order for object features; undefined when the model does not name its features. */
  readonly names: readonly string[] | undefined
  readonly index: ReadonlyMap<string, number> | undefined
  /** The row every call returns when `reuseRow` was set; undefined to allocate one per call. */
  readonly scratch: Float64Array | undefined
  readonly namesHint: string
}

export interface TabularOptions {
  /**
   * Return one scratch row, valid until the next call, instead of allocating: only for models
   * that consume the row synchronously before the next one is built.
   */
  readonly reuseRow?: boolean
  /** Appended to the error for object features when the model has no names, e.g. how to set them. */
  readonly namesHint?: string
}

export function tabularLayout(count: number, names: readonly string[] | undefined, options: TabularOptions = {}): TabularLayout {
  return {
    count,
    names,
    index: names && new Map(names.map((name, i) => [name, i])),
    scratch: options.reuseRow ? new Float64Array(count) : undefined,
    namesHint: options.namesHint ?? '',
  }
}

/** `where` is the request path of `features`, prefixing messages and fields: `features[3]` in a batch. */
export function toTabularRow(features: unknown, layout: TabularLayout, where = 'features'): Float64Array {
  const { count, names, index } = layout
  const row = layout.scratch ?? new Float64Array(count)
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
      throw invalid(`${where}: this model has no feature names, so features must be an array of ${count} numbers${layout.namesHint}`)
    }
    row.fill(Number.NaN)
    // for-in with hasOwn rather than Object.entries: no array per request on the hot path.
    for (const key in features) {
      if (!Object.hasOwn(features, key)) continue
      const i = index.get(key)
      if (i === undefined) throw invalid(`${where}: unknown feature "${key}" (known: ${preview(names)})`, `${where}.${key}`)
      row[i] = toValue((features as Record<string, unknown>)[key], `${where}.${key}`, key)
    }
    return row
  }
  throw invalid(`${where} must be an array of ${count} numbers (null = missing)${names ? ' or an object keyed by feature name' : ''}`)
}

function toValue(value: unknown, path: string, feature: string): number {
  if (value === null || value === undefined) return Number.NaN
  if (typeof value === 'number') return value
  throw invalid(`${path} (feature "${feature}") must be a number or null, got ${describe(value)}`, path)
}

function invalid(message: string, field?: string): ServekitError {
  return new ServekitError('invalid_request', message, field === undefined ? undefined : { details: { field } })
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`
  return Array.isArray(value) ? 'array' : typeof value
}

function preview(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, … (${names.length} in all)`
}
