/**
 * A decoder for the subset of UBJSON (https://ubjson.org, big-endian) that XGBoost writes with
 * `save_model('*.ubj')`: objects, arrays (plain, counted and strongly typed), strings, int8..int64,
 * float32/float64, booleans and null. Strongly typed numeric arrays become typed arrays, so a
 * tree's float32 thresholds stay float32 without a copy through doubles.
 */

/** Thrown for malformed input; the caller adds the file name. */
export class UbjsonError extends Error {}

export type UbjsonValue =
  | null
  | boolean
  | number
  | string
  | UbjsonValue[]
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | { [key: string]: UbjsonValue }

const MAX_DEPTH = 64
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Decodes one UBJSON value that must span all of `bytes`. */
export function decodeUbjson(bytes: Uint8Array): UbjsonValue {
  const reader = new Reader(bytes)
  const value = reader.value(reader.marker(), 0)
  if (reader.pos !== bytes.length) throw new UbjsonError(`trailing bytes at offset ${reader.pos}`)
  return value
}

class Reader {
  pos = 0
  private readonly view: DataView

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  marker(): number {
    // 'N' is a no-op padding marker allowed between values.
    let m = this.u8()
    while (m === 0x4e) m = this.u8()
    return m
  }

  value(marker: number, depth: number): UbjsonValue {
    switch (String.fromCharCode(marker)) {
      case 'Z': return null
      case 'T': return true
      case 'F': return false
      case 'i': case 'U': case 'I': case 'l': case 'L': case 'd': case 'D':
        return this.number(marker)
      case 'C': return String.fromCharCode(this.u8())
      case 'S': return this.string()
      case 'H': {
        const text = this.string()
        const n = Number(text)
        if (text.trim() === '' || Number.isNaN(n)) throw new UbjsonError(`bad high-precision number "${text}"`)
        return n
      }
      case '[': return this.array(depth + 1)
      case '{': return this.object(depth + 1)
      default:
        throw new UbjsonError(`unknown type marker 0x${marker.toString(16)} at offset ${this.pos - 1}`)
    }
  }

  private number(marker: number): number {
    const at = this.take(numberSize(marker))
    switch (marker) {
      case 0x69: return this.view.getInt8(at)
      case 0x55: return this.view.getUint8(at)
      case 0x49: return this.view.getInt16(at)
      case 0x6c: return this.view.getInt32(at)
      case 0x4c: {
        const big = this.view.getBigInt64(at)
        if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new UbjsonError(`int64 ${big} at offset ${at} is out of the safe integer range`)
        }
        return Number(big)
      }
      case 0x64: return this.view.getFloat32(at)
      default: return this.view.getFloat64(at)
    }
  }

  private length(): number {
    const marker = this.marker()
    if (numberSize(marker) === 0 || marker === 0x64 || marker === 0x44) {
      throw new UbjsonError(`expected an integer length at offset ${this.pos - 1}`)
    }
    const n = this.number(marker)
    if (n < 0) throw new UbjsonError(`negative length ${n} at offset ${this.pos}`)
    return n
  }

  private string(): string {
    const n = this.length()
    const at = this.take(n)
    try {
      return utf8.decode(this.bytes.subarray(at, at + n))
    } catch {
      throw new UbjsonError(`invalid UTF-8 in string at offset ${at}`)
    }
  }

  /** Reads the optional `$type` and `#count` header of a container. */
  private header(): { type: number; count: number } {
    let type = 0
    let count = -1
    if (this.peek() === 0x24) {
      this.pos++
      type = this.u8()
      if (this.peek() !== 0x23) throw new UbjsonError(`typed container without a count at offset ${this.pos}`)
    }
    if (this.peek() === 0x23) {
      this.pos++
      count = this.length()
      // Refuse counts the remaining bytes cannot hold, before allocating anything for them.
      if (count * elementMinSize(type) > this.bytes.length - this.pos) {
        throw new UbjsonError(`count ${count} at offset ${this.pos} exceeds the data left`)
      }
    }
    return { type, count }
  }

  private array(depth: number): UbjsonValue {
    if (depth > MAX_DEPTH) throw new UbjsonError('nesting too deep')
    const { type, count } = this.header()
    if (type !== 0 && numberSize(type) !== 0) return this.typedArray(type, count)
    const out: UbjsonValue[] = []
    if (count >= 0) {
      for (let i = 0; i < count; i++) out.push(this.value(type || this.marker(), depth))
      return out
    }
    for (let m = this.marker(); m !== 0x5d; m = this.marker()) out.push(this.value(m, depth))
    return out
  }

  private typedArray(type: number, count: number): UbjsonValue {
    const size = numberSize(type)
    const at = this.take(size * count)
    const v = this.view
    switch (type) {
      case 0x55: return this.bytes.slice(at, at + count)
      case 0x69: return Int8Array.from({ length: count }, (_, i) => v.getInt8(at + i))
      case 0x49: return Int16Array.from({ length: count }, (_, i) => v.getInt16(at + 2 * i))
      case 0x6c: return Int32Array.from({ length: count }, (_, i) => v.getInt32(at + 4 * i))
      case 0x64: return Float32Array.from({ length: count }, (_, i) => v.getFloat32(at + 4 * i))
      case 0x44: return Float64Array.from({ length: count }, (_, i) => v.getFloat64(at + 8 * i))
      default: {
        this.pos = at
        return Array.from({ length: count }, () => this.number(type))
      }
    }
  }

  private object(depth: number): UbjsonValue {
    if (depth > MAX_DEPTH) throw new UbjsonError('nesting too deep')
    const { type, count } = this.header()
    const out: { [key: string]: UbjsonValue } = {}
    const entry = (): void => {
      const key = this.string()
      // Own data property even for "__proto__", so a crafted key cannot change the prototype.
      Object.defineProperty(out, key, { value: this.value(type || this.marker(), depth), enumerable: true, writable: true, configurable: true })
    }
    if (count >= 0) {
      for (let i = 0; i < count; i++) entry()
      return out
    }
    while (this.peek() !== 0x7d) {
      if (this.peek() === 0x4e) { this.pos++; continue }
      entry()
    }
    this.pos++
    return out
  }

  private peek(): number {
    if (this.pos >= this.bytes.length) throw new UbjsonError(`unexpected end of data at offset ${this.pos}`)
    return this.bytes[this.pos] as number
  }

  private u8(): number {
    const b = this.peek()
    this.pos++
    return b
  }

  /** Reserves `n` bytes and returns where they start. */
  private take(n: number): number {
    if (n > this.bytes.length - this.pos) throw new UbjsonError(`unexpected end of data at offset ${this.bytes.length}`)
    const at = this.pos
    this.pos += n
    return at
  }
}

function numberSize(marker: number): number {
  switch (marker) {
    case 0x69: case 0x55: return 1 // i U
    case 0x49: return 2 // I
    case 0x6c: case 0x64: return 4 // l d
    case 0x4c: case 0x44: return 8 // L D
    default: return 0
  }
}

/** Fewest bytes one container element can take: null/true/false as a fixed type take none. */
function elementMinSize(type: number): number {
  if (type === 0x5a || type === 0x54 || type === 0x46) return 0
  return Math.max(1, numberSize(type))
}
