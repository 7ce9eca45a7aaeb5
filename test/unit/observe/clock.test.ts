import { describe, expect, it } from 'vitest'
import { isoTime } from '../../../src/observe/clock.js'

describe('isoTime', () => {
  it('is exactly Date#toISOString, millisecond by millisecond across minute, hour, day and year ends', () => {
    const differing: number[] = []
    const check = (ms: number) => {
      if (isoTime(ms) !== new Date(ms).toISOString()) differing.push(ms)
    }
    // Each span starts a little before a boundary and runs past it, in order, as a clock does.
    for (const boundary of [Date.UTC(2026, 11, 31, 23, 59, 0), Date.UTC(2027, 0, 1), Date.UTC(2024, 1, 29, 12, 0), 0, Date.UTC(1969, 11, 31, 23, 59)]) {
      for (let ms = boundary - 61_500; ms < boundary + 61_500; ms += 7) check(ms)
    }
    // Then jumps: backwards, forwards, repeats, far times.
    for (let i = 0; i < 100_000; i++) check(Math.floor(Math.random() * 4e12) - 1e12)
    for (const ms of [1_700_000_000_000, 1_700_000_000_000, 1_699_999_999_999, 8.64e15, -8.64e15, 253402300799999, 253402300800000]) check(ms)
    expect(differing).toEqual([])
  })

  it('is Date#toISOString for a fraction of a millisecond too, and throws as it does for NaN', () => {
    expect(isoTime(1_700_000_000_000.5)).toBe(new Date(1_700_000_000_000.5).toISOString())
    expect(() => isoTime(Number.NaN)).toThrow(RangeError)
  })
})
