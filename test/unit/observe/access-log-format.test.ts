import { describe, expect, it } from 'vitest'
import { millis, quoted } from '../../../src/observe/access-log.js'

describe('access log formatting', () => {
  it('quotes every string exactly as JSON.stringify does', () => {
    const strings = ['', 'abc', '3f2c9a1e-8b7d-4c6a-9e5f-1a2b3c4d5e6f', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\x00\x1f\x7f', 'é€🙂', '\u2028\u2029', '\ud800 lone', 'lone \udfff', '\ud83d\ude42']
    for (let c = 0; c < 0x80; c++) strings.push(`x${String.fromCharCode(c)}y`)
    for (const s of strings) expect(quoted(s)).toBe(JSON.stringify(s))
  })

  it('writes microseconds as milliseconds with three decimals, the same number', () => {
    expect(millis(0)).toBe('0.000')
    expect(millis(7)).toBe('0.007')
    expect(millis(50)).toBe('0.050')
    expect(millis(1046)).toBe('1.046')
    expect(millis(1100)).toBe('1.100')
    expect(millis(12_345_678)).toBe('12345.678')
    for (let us = 0; us < 5000; us += 7) expect(Number(millis(us))).toBe(Math.round(us) / 1000)
    // Not a count of microseconds: as JSON.stringify would print the number (NaN as null).
    expect(millis(1.5)).toBe('0.0015')
    expect(millis(Number.NaN)).toBe('null')
  })
})
