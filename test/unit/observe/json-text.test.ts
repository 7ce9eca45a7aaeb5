import { describe, expect, it } from 'vitest'
import { millisJson, msJson, quoted, quotedRepeating, roundMs } from '../../../src/observe/json-text.js'

describe('JSON text of log lines and events', () => {
  it('quotes every string exactly as JSON.stringify does', () => {
    const strings = ['', 'abc', '3f2c9a1e-8b7d-4c6a-9e5f-1a2b3c4d5e6f', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\x00\x1f\x7f', 'é€🙂', '\u2028\u2029', '\ud800 lone', 'lone \udfff', '\ud83d\ude42']
    for (let c = 0; c < 0x80; c++) strings.push(`x${String.fromCharCode(c)}y`)
    for (const s of strings) expect(quoted(s)).toBe(JSON.stringify(s))
  })

  it('writes microseconds as milliseconds exactly as JSON.stringify(us / 1000) does', () => {
    expect(millisJson(0)).toBe('0')
    expect(millisJson(7)).toBe('0.007')
    expect(millisJson(50)).toBe('0.05')
    expect(millisJson(1046)).toBe('1.046')
    expect(millisJson(1100)).toBe('1.1')
    expect(millisJson(2000)).toBe('2')
    expect(millisJson(12_345_678)).toBe('12345.678')
    const differing: string[] = []
    const same = (us: number) => {
      if (millisJson(us) !== JSON.stringify(us / 1000)) differing.push(`${us} µs: ${millisJson(us)}`)
    }
    for (let us = 0; us < 1_000_000; us++) same(us)
    // Up to the largest count written from its digits, and past it (JSON.stringify from there).
    for (let i = 0; i < 200_000; i++) same(Math.floor(Math.random() * 2e12))
    for (const us of [1e12 - 1, 1e12, 1e12 + 1, 2 ** 53 - 1, 1.5, -1, -0, Number.NaN, Number.POSITIVE_INFINITY]) same(us)
    expect(differing).toEqual([])
  })

  it('writes a latency rounded to the microsecond fast, and any other number as JSON.stringify does', () => {
    const differing: number[] = []
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.random() * 10 ** Math.floor(Math.random() * 8)
      for (const x of [ms, roundMs(ms)]) if (msJson(x) !== JSON.stringify(x)) differing.push(x)
    }
    expect(differing).toEqual([])
    for (const ms of [0, -0, 0.001, 0.0015, 1e-7, 1e21, -3, Number.NaN]) expect(msJson(ms)).toBe(JSON.stringify(ms))
    expect(roundMs(1.23456789)).toBe(1.235)
  })
})

describe('quotedRepeating', () => {
  it('quotes as quoted does, whatever came before', () => {
    const q = quotedRepeating()
    const seq = ['a', 'a', 'b"c', 'b"c', 'a', '', '', 'é', 'a']
    expect(seq.map(q)).toEqual(seq.map((s) => JSON.stringify(s)))
  })
})
