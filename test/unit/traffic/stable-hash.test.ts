import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { unitHash } from '../../../src/traffic/stable-hash.js'

/** The definition, written the slow way: FNV-1a over TextEncoder's bytes of salt, 0, key; then fmix32. */
function reference(salt: string, key: string): number {
  let h = 0x811c9dc5
  for (const b of [...new TextEncoder().encode(salt), 0, ...new TextEncoder().encode(key)]) h = Math.imul(h ^ b, 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296
}

describe('unitHash', () => {
  it('gives fixed values, so a key keeps its arm across workers, restarts and releases', () => {
    // Changing these values moves users between experiment arms: never change them.
    expect(unitHash('ab', 'user-1')).toBe(0.1196481033693999)
    expect(unitHash('ab', 'user-2')).toBe(0.32916990388184786)
    expect(unitHash('churn', 'alice')).toBe(0.7933726396877319)
    expect(unitHash('churn', '')).toBe(0.7836841631215066)
    expect(unitHash('m', 'héllo wörld ✓ 😀')).toBe(0.30623899516649544)
  })

  it('hashes the UTF-8 bytes, as any other implementation would (lone surrogates as U+FFFD)', () => {
    const anyUtf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((codes) => String.fromCharCode(...codes))
    fc.assert(fc.property(anyUtf16, anyUtf16, (salt, key) => unitHash(salt, key) === reference(salt, key)))
  })

  it('spreads similar keys evenly over [0, 1)', () => {
    const buckets = new Array(10).fill(0)
    for (let i = 0; i < 10_000; i++) buckets[Math.floor(unitHash('ab', `user-${i}`) * 10)]++
    for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150)
  })

  it('salts by model, so one key does not land in the same share of every experiment', () => {
    let same = 0
    for (let i = 0; i < 1000; i++) if (unitHash('a', `u${i}`) < 0.1 === unitHash('b', `u${i}`) < 0.1) same++
    // Independent 10 % draws agree 82 % of the time; perfectly correlated ones 100 %.
    expect(same).toBeLessThan(880)
  })
})
