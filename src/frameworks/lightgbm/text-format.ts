import { ServekitError } from '../../errors.js'

/**
 * Low-level reading of LightGBM's `model.txt`: lines, `key=value` blocks and strict number lists.
 * Everything that goes wrong becomes `model_load_failed` with the file name, so a bad artifact
 * is reported once at load instead of as odd predictions later.
 */

/** One `key=value` line, with its 1-based line number for error messages. */
export interface Entry {
  readonly value: string
  readonly line: number
}

/** A run of `key=value` lines (the header or one `Tree=` block). */
export interface Block {
  readonly entries: ReadonlyMap<string, Entry>
  /** Lines without `=` (e.g. `tree`, `average_output`). */
  readonly flags: ReadonlySet<string>
  /** First line of the block (1-based). */
  readonly line: number
}

export function loadError(file: string, problem: string): ServekitError {
  return new ServekitError('model_load_failed', `LightGBM model ${file}: ${problem}`)
}

/** Splits the text into lines, accepting the CRLF endings Windows builds of LightGBM write. */
export function splitLines(text: string): string[] {
  return text.split(/\r?\n/)
}

/**
 * Reads `key=value` lines from `start` until a blank line or a line that `stop` accepts.
 * Duplicate keys are rejected: LightGBM never writes them, so one means a corrupted or hand-merged file.
 */
export function readBlock(file: string, lines: readonly string[], start: number, stop: (line: string) => boolean): { block: Block; next: number } {
  const entries = new Map<string, Entry>()
  const flags = new Set<string>()
  let i = start
  for (; i < lines.length; i++) {
    const text = lines[i] ?? ''
    if (text.trim() === '' || stop(text)) break
    const eq = text.indexOf('=')
    if (eq < 0) {
      flags.add(text.trim())
      continue
    }
    const key = text.slice(0, eq).trim()
    if (entries.has(key)) throw loadError(file, `line ${i + 1}: duplicate key "${key}"`)
    entries.set(key, { value: text.slice(eq + 1).trim(), line: i + 1 })
  }
  return { block: { entries, flags, line: start + 1 }, next: i }
}

/** Reads typed values out of one block, naming the block and line in every error. */
export class BlockReader {
  constructor(
    private readonly file: string,
    private readonly block: Block,
    private readonly where: string,
  ) {}

  fail(problem: string, key?: string): ServekitError {
    const line = key === undefined ? this.block.line : (this.block.entries.get(key)?.line ?? this.block.line)
    return loadError(this.file, `line ${line} (${this.where}): ${problem}`)
  }

  has(key: string): boolean {
    return this.block.entries.has(key)
  }

  string(key: string): string {
    const entry = this.block.entries.get(key)
    if (entry === undefined) throw this.fail(`missing "${key}="`)
    return entry.value
  }

  optionalString(key: string): string | undefined {
    return this.block.entries.get(key)?.value
  }

  int(key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = parseIntToken(this.string(key))
    if (n === undefined || n < min || n > max) throw this.fail(`"${key}" must be an integer in [${min}, ${max}], got "${this.string(key)}"`, key)
    return n
  }

  /** A space-separated list of exactly `count` integers, each in [min, max]. */
  ints(key: string, count: number, min: number, max: number): number[] {
    const tokens = this.tokens(key, count)
    return tokens.map((token, i) => {
      const n = parseIntToken(token)
      if (n === undefined || n < min || n > max) {
        throw this.fail(`"${key}" value #${i} must be an integer in [${min}, ${max}], got "${token}"`, key)
      }
      return n
    })
  }

  /** A space-separated list of exactly `count` doubles. */
  doubles(key: string, count: number): Float64Array {
    const tokens = this.tokens(key, count)
    const out = new Float64Array(count)
    tokens.forEach((token, i) => {
      const x = parseDoubleToken(token)
      if (x === undefined) throw this.fail(`"${key}" value #${i} is not a number: "${token}"`, key)
      out[i] = x
    })
    return out
  }

  private tokens(key: string, count: number): string[] {
    const raw = this.string(key)
    const tokens = raw === '' ? [] : raw.split(/\s+/)
    if (tokens.length !== count) throw this.fail(`"${key}" has ${tokens.length} values, expected ${count}`, key)
    return tokens
  }
}

const INT_RE = /^[+-]?\d+$/
const DOUBLE_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

export function parseIntToken(token: string): number | undefined {
  if (!INT_RE.test(token)) return undefined
  const n = Number(token)
  return Number.isSafeInteger(n) ? n : undefined
}

/**
 * Parses one double as LightGBM writes it (`{:.17g}`, so `Number` gives the exact same double),
 * plus the `inf`/`nan` spellings its parser accepts. Rejects what `Number` would wrongly accept:
 * empty strings, whitespace, hex and binary literals.
 */
export function parseDoubleToken(token: string): number | undefined {
  if (DOUBLE_RE.test(token)) return Number(token)
  const special = /^([+-]?)(inf|infinity|nan|na)$/i.exec(token)
  if (special === null) return undefined
  const word = (special[2] ?? '').toLowerCase()
  if (word === 'nan' || word === 'na') return Number.NaN
  return special[1] === '-' ? -Infinity : Infinity
}
