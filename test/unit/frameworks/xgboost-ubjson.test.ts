import { describe, expect, it } from 'vitest'
import { decodeUbjson, UbjsonError } from '../../../src/frameworks/xgboost/ubjson.js'

/** Builds UBJSON bytes from chars (markers, ASCII) and numbers (raw bytes). */
function ub(...parts: (string | number)[]): Uint8Array {
  const out: number[] = []
  for (const p of parts) {
    if (typeof p === 'number') out.push(p)
    else for (const ch of p) out.push(ch.charCodeAt(0))
  }
  return Uint8Array.from(out)
}

/** Big-endian bytes of a float32. */
function f32(v: number): number[] {
  const b = new DataView(new ArrayBuffer(4))
  b.setFloat32(0, v)
  return [0, 1, 2, 3].map((i) => b.getUint8(i))
}

describe('UBJSON decoder', () => {
  it('decodes the scalar types XGBoost writes, big-endian', () => {
    expect(decodeUbjson(ub('i', 0xff))).toBe(-1)
    expect(decodeUbjson(ub('U', 0xff))).toBe(255)
    expect(decodeUbjson(ub('I', 0x01, 0x00))).toBe(256)
    expect(decodeUbjson(ub('l', 0xff, 0xff, 0xff, 0xfe))).toBe(-2)
    expect(decodeUbjson(ub('L', 0, 0, 0, 0, 0, 0, 0x01, 0x00))).toBe(256)
    expect(decodeUbjson(ub('d', ...f32(0.1)))).toBe(Math.fround(0.1))
    expect(decodeUbjson(ub('S', 'i', 2, 'h', 'i'))).toBe('hi')
    expect(decodeUbjson(ub('H', 'i', 3, '1', 'e', '3'))).toBe(1000)
    expect(decodeUbjson(ub('C', 'x'))).toBe('x')
    expect(decodeUbjson(ub('T'))).toBe(true)
    expect(decodeUbjson(ub('Z'))).toBe(null)
  })

  it('decodes plain, counted and strongly typed containers', () => {
    expect(decodeUbjson(ub('[', 'i', 1, 'N', 'T', ']'))).toEqual([1, true])
    expect(decodeUbjson(ub('[', '#', 'i', 2, 'i', 1, 'i', 2))).toEqual([1, 2])
    const floats = decodeUbjson(ub('[', '$', 'd', '#', 'i', 2, ...f32(1.5), ...f32(-2)))
    expect(floats).toBeInstanceOf(Float32Array)
    expect(Array.from(floats as Float32Array)).toEqual([1.5, -2])
    expect(decodeUbjson(ub('[', '$', 'U', '#', 'i', 3, 1, 0, 1))).toEqual(Uint8Array.from([1, 0, 1]))
    expect(decodeUbjson(ub('{', 'i', 1, 'a', 'i', 5, 'i', 1, 'b', '[', ']', '}'))).toEqual({ a: 5, b: [] })
    expect(decodeUbjson(ub('{', '$', 'i', '#', 'i', 1, 'i', 1, 'k', 7))).toEqual({ k: 7 })
  })

  it('keeps a "__proto__" key as plain data', () => {
    const obj = decodeUbjson(ub('{', 'i', 9, '__proto__', '{', '}', '}')) as Record<string, unknown>
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype)
    expect(Object.keys(obj)).toEqual(['__proto__'])
  })

  it('rejects truncated data, unknown markers, huge counts and trailing bytes', () => {
    const cases: [Uint8Array, RegExp][] = [
      [ub('[', 'i', 1), /unexpected end/],
      [ub('S', 'i', 5, 'a'), /unexpected end/],
      [ub('Q'), /unknown type marker 0x51/],
      [ub('[', '$', 'd', '#', 'l', 0x7f, 0xff, 0xff, 0xff), /exceeds the data left/],
      [ub('S', 'i', 0xff), /negative length/],
      [ub('T', 'T'), /trailing bytes/],
      [ub('S', 'd', ...f32(1)), /expected an integer length/],
    ]
    for (const [bytes, message] of cases) expect(() => decodeUbjson(bytes)).toThrow(message)
    expect(() => decodeUbjson(ub('Q'))).toThrow(UbjsonError)
  })
})
