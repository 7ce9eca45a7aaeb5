import type { Tensor } from 'onnxruntime-node'
import { ServekitError } from '../../errors.js'

/**
 * JSON <-> tensor conversion for the ONNX model class. Requests carry nested arrays of JSON
 * values; onnxruntime wants one flat typed array plus dims. Everything here is pure so the
 * shape and type rules can be tested without a session.
 */

type NumberRange = { kind: 'int'; min: number; max: number }
type ElementRule = { kind: 'float' } | NumberRange | { kind: 'bigint'; min: bigint; max: bigint } | { kind: 'bool' } | { kind: 'string' }

/** Element types accepted in inputs and returned from outputs. float16 and 4-bit types are not. */
export const elementRules = {
  float32: { kind: 'float' },
  float64: { kind: 'float' },
  int8: { kind: 'int', min: -128, max: 127 },
  uint8: { kind: 'int', min: 0, max: 255 },
  int16: { kind: 'int', min: -32768, max: 32767 },
  uint16: { kind: 'int', min: 0, max: 65535 },
  int32: { kind: 'int', min: -2147483648, max: 2147483647 },
  uint32: { kind: 'int', min: 0, max: 4294967295 },
  int64: { kind: 'bigint', min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint64: { kind: 'bigint', min: 0n, max: 2n ** 64n - 1n },
  bool: { kind: 'bool' },
  string: { kind: 'string' },
} as const satisfies Record<string, ElementRule>

export type ElementType = keyof typeof elementRules

export const isElementType = (type: string): type is ElementType => Object.hasOwn(elementRules, type)

/** A declared dimension: a size, or a symbolic name for a dynamic one (`''` when unnamed). */
export type Dim = number | string

/** One converted element: numbers (bools as 0/1), bigints for 64-bit ints, or strings. */
export type Element = number | bigint | string

/** One example's value for one input, flattened. */
export interface ExampleValue {
  readonly shape: readonly number[]
  readonly data: readonly Element[]
}

export const formatShape = (dims: readonly Dim[]): string =>
  `[${dims.map((d) => (typeof d === 'number' && d >= 0 ? String(d) : d === '' || d === -1 ? '?' : String(d))).join(', ')}]`

const isDynamic = (d: Dim): boolean => typeof d === 'string' || d < 0

/** Where a value sits in the request, for errors: messages name it, `details.field` gives its path. */
export interface ValueAt {
  /** The value's path in the request; default `features.<name>`. */
  readonly path?: string
  /** Names flat element i in messages (e.g. a feature name); default `input "<name>" element i`. */
  readonly label?: (i: number) => string
  /** Path of flat element i; default `path` plus its indices as sent, e.g. `features.x[1][0]`. */
  readonly field?: (i: number) => string
}

/**
 * Converts one example's JSON value for input `name` into flat elements with a checked shape.
 *
 * `want` is the per-example shape (the model's dims without the batch dim), or null when the model
 * declares none. A flat array is reshaped into `want` when the sizes leave no doubt, so clients may
 * send `[1, 2, 3, 4]` for a `[2, 2]` input; a scalar counts as a flat array of one.
 */
export function readExample(name: string, type: ElementType, want: readonly Dim[] | null, value: unknown, at: ValueAt = {}): ExampleValue {
  const path = at.path ?? `features.${name}`
  const got: number[] = []
  const leaves: unknown[] = []
  flatten(value, got, 0, leaves, name, path)
  const label = at.label ?? ((i: number) => `input "${name}" element ${i}`)
  const field = at.field ?? ((i: number) => indexPath(path, got, i))
  const data = leaves.map((leaf, i) => convertElement(type, leaf, () => label(i), () => field(i)))
  if (want === null) return { shape: got, data }
  if (fits(want, got)) return { shape: got, data }
  if (got.length <= 1) {
    const reshaped = reshapeFlat(want, data.length)
    if (reshaped !== null) return { shape: reshaped, data }
  }
  throw new ServekitError(
    'invalid_request',
    `input "${name}": expected shape ${formatShape(want)} per example (servekit adds the batch dim), got ${formatShape(got)}`,
    { details: { field: path, input: name, got } },
  )
}

/** `path` plus the indices of flat element `i` in an array of shape `dims`: `x`, 5, [2, 3] -> `x[1][2]`. */
function indexPath(path: string, dims: readonly number[], i: number): string {
  let suffix = ''
  for (let d = dims.length - 1; d >= 0; d--) {
    const size = dims[d] as number
    suffix = `[${i % size}]${suffix}`
    i = Math.floor(i / size)
  }
  return path + suffix
}

/** Walks a nested array, recording its dims from the first element of each level and rejecting ragged ones. */
function flatten(value: unknown, dims: number[], depth: number, out: unknown[], name: string, path: string): void {
  if (!Array.isArray(value)) {
    if (depth !== dims.length) throw ragged(name, path)
    out.push(value)
    return
  }
  if (depth === dims.length) {
    if (out.length > 0) throw ragged(name, path) // a scalar already sat at this depth
    dims.push(value.length)
  } else if (dims[depth] !== value.length) throw ragged(name, path)
  if (value.length === 0 && depth === dims.length - 1) return
  for (const item of value) flatten(item, dims, depth + 1, out, name, path)
}

const ragged = (name: string, path: string): ServekitError =>
  new ServekitError('invalid_request', `input "${name}": nested arrays must be rectangular (all rows the same length and depth)`, {
    details: { field: path },
  })

const fits = (want: readonly Dim[], got: readonly number[]): boolean =>
  want.length === got.length && want.every((d, i) => isDynamic(d) || d === got[i])

/** The shape a flat array of `size` elements takes in `want`, if exactly one fits. */
function reshapeFlat(want: readonly Dim[], size: number): number[] | null {
  const dynamic = want.filter(isDynamic).length
  const known = want.reduce<number>((n, d) => (isDynamic(d) ? n : n * (d as number)), 1)
  if (dynamic === 0) return known === size ? (want as number[]).slice() : null
  if (dynamic > 1 || known === 0 || size % known !== 0) return null
  return want.map((d) => (isDynamic(d) ? size / known : (d as number)))
}

function convertElement(type: ElementType, leaf: unknown, where: () => string, field: () => string): Element {
  const rule: ElementRule = elementRules[type]
  const bad = (expected: string): ServekitError =>
    new ServekitError('invalid_request', `${where()}: expected ${expected}, got ${describe(leaf)}`, { details: { field: field() } })
  switch (rule.kind) {
    case 'float':
      if (typeof leaf !== 'number') throw bad(`a number (${type})`)
      return leaf
    case 'int':
      if (typeof leaf !== 'number' || !Number.isInteger(leaf) || leaf < rule.min || leaf > rule.max) {
        throw bad(`an integer in ${type} range [${rule.min}, ${rule.max}]`)
      }
      return leaf
    case 'bigint': {
      // JSON numbers are doubles, so integers beyond 2^53 must come as decimal strings to be exact.
      let n: bigint | undefined
      if (typeof leaf === 'number' && Number.isSafeInteger(leaf)) n = BigInt(leaf)
      else if (typeof leaf === 'string' && /^-?\d{1,20}$/.test(leaf)) n = BigInt(leaf)
      if (n === undefined || n < rule.min || n > rule.max) {
        throw bad(`an integer (${type}): a JSON number up to 2^53 or a decimal string`)
      }
      return n
    }
    case 'bool':
      if (typeof leaf !== 'boolean') throw bad('true or false (bool)')
      return leaf ? 1 : 0
    case 'string':
      if (typeof leaf !== 'string') throw bad('a string')
      return leaf
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

/** Typed-array constructors by element type (strings stay a plain array). */
const typedArrays = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
} as const

/**
 * The typed array onnxruntime wants for `type`, filled from the converted elements of one or more
 * examples, stacked in order. One allocation and `set` per example: stacking 64 examples with
 * `flatMap` first cost ~50x more than the copy itself.
 */
export function typedData(type: ElementType, parts: readonly (readonly Element[])[]): Tensor.DataType {
  if (type === 'string') return parts.flat() as string[]
  let total = 0
  for (const p of parts) total += p.length
  const out = new typedArrays[type](total)
  let offset = 0
  for (const p of parts) {
    ;(out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p as ArrayLike<number | bigint>, offset)
    offset += p.length
  }
  return out as Tensor.DataType
}

/** An output value as plain JSON: 64-bit ints become numbers (inexact beyond 2^53), bools booleans. */
export type JsonValue = number | boolean | string | JsonValue[]

/** Row `row` of an output tensor's flat data, each row shaped `rowShape`, as nested arrays (a scalar for `[]`). */
export function outputRow(tensor: Pick<Tensor, 'type' | 'data'>, rowShape: readonly number[], row: number): JsonValue {
  const size = rowShape.reduce((n, d) => n * d, 1)
  const data = tensor.data as ArrayLike<number | bigint | string>
  const element =
    tensor.type === 'bool'
      ? (i: number): JsonValue => data[i] !== 0
      : (i: number): JsonValue => {
          const v = data[i] as number | bigint | string
          return typeof v === 'bigint' ? Number(v) : v
        }
  const build = (depth: number, offset: number): JsonValue => {
    if (depth === rowShape.length) return element(offset)
    const dim = rowShape[depth] as number
    const stride = rowShape.slice(depth + 1).reduce((n, d) => n * d, 1)
    const out: JsonValue[] = new Array<JsonValue>(dim)
    for (let i = 0; i < dim; i++) out[i] = build(depth + 1, offset + i * stride)
    return out
  }
  return build(0, row * size)
}
