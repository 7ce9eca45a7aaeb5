import { ServekitError } from '../../errors.js'

/**
 * A checked path into a decoded model document. Every failure names the file and the JSON path
 * (e.g. `learner.gradient_booster.model.trees[3].split_indices`) so a broken file is easy to find.
 */
export class Field {
  constructor(
    readonly value: unknown,
    readonly path: string,
    readonly file: string,
  ) {}

  /** The error for this path; `throw field.error(...)` where TypeScript must see the throw. */
  error(what: string): ServekitError {
    return new ServekitError('model_load_failed', `${this.file}: ${this.path || '(root)'}: ${what}`)
  }

  fail(what: string): never {
    throw this.error(what)
  }

  has(key: string): boolean {
    return isObject(this.value) && Object.hasOwn(this.value, key)
  }

  key(key: string): Field {
    const obj = this.object()
    if (!Object.hasOwn(obj, key)) this.fail(`missing "${key}"`)
    return new Field(obj[key], this.path ? `${this.path}.${key}` : key, this.file)
  }

  optKey(key: string): Field | undefined {
    return this.has(key) ? this.key(key) : undefined
  }

  object(): Record<string, unknown> {
    if (!isObject(this.value)) this.fail(`expected an object, got ${describe(this.value)}`)
    return this.value
  }

  items(): Field[] {
    if (!Array.isArray(this.value)) this.fail(`expected an array, got ${describe(this.value)}`)
    return this.value.map((v, i) => new Field(v, `${this.path}[${i}]`, this.file))
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail(`expected a string, got ${describe(this.value)}`)
    return this.value
  }

  /** A non-negative integer, stored as a number or (as XGBoost writes parameters) a string. */
  count(): number {
    const v = typeof this.value === 'string' && /^\s*\d+\s*$/.test(this.value) ? Number(this.value) : this.value
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      this.fail(`expected a non-negative integer, got ${describe(this.value)}`)
    }
    return v
  }

  /** An array of numbers: a JSON array or a UBJSON typed array. Booleans count as 0/1. */
  numbers(length?: number): ArrayLike<number> {
    const v = this.value
    let out: ArrayLike<number>
    if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !isBigIntArray(v)) {
      out = v as unknown as ArrayLike<number>
    } else if (Array.isArray(v)) {
      const arr = new Array<number>(v.length)
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i]
        if (typeof x === 'number') arr[i] = x
        else if (typeof x === 'boolean') arr[i] = x ? 1 : 0
        else this.fail(`element ${i} is ${describe(x)}, expected a number`)
      }
      out = arr
    } else {
      this.fail(`expected an array of numbers, got ${describe(v)}`)
    }
    if (length !== undefined && out.length !== length) {
      this.fail(`has ${out.length} elements, expected ${length}`)
    }
    return out
  }

  /** Like `numbers`, but every element must be an integer. */
  integers(length?: number): ArrayLike<number> {
    const out = this.numbers(length)
    for (let i = 0; i < out.length; i++) {
      if (!Number.isInteger(out[i])) this.fail(`element ${i} is ${out[i]}, expected an integer`)
    }
    return out
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v)
}

function isBigIntArray(v: ArrayBufferView): boolean {
  return v instanceof BigInt64Array || v instanceof BigUint64Array
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (ArrayBuffer.isView(v)) return 'a typed array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${String(v)}`
}
