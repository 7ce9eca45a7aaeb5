import { describe, expect, it } from 'vitest'
import { compareOutputs } from '../../../src/model/compare.js'

describe('compareOutputs', () => {
  it('accepts floats within absolute + relative * |expected|', () => {
    expect(compareOutputs(1.0, 1.0000005).equal).toBe(true)
    expect(compareOutputs(1000, 1000.0009, { absolute: 0, relative: 1e-6 }).equal).toBe(true)
    expect(compareOutputs(1000, 1000.002, { absolute: 0, relative: 1e-6 }).equal).toBe(false)
  })

  it('compares integers exactly whatever the tolerance', () => {
    expect(compareOutputs(2, 3, { absolute: 5 }).equal).toBe(false)
    expect(compareOutputs(2, 2).equal).toBe(true)
  })

  it('compares strings and booleans exactly', () => {
    expect(compareOutputs('cat', 'cat').equal).toBe(true)
    expect(compareOutputs('cat', 'dog').equal).toBe(false)
    expect(compareOutputs(true, 1).equal).toBe(false)
  })

  it('walks arrays and objects and says where the first difference is', () => {
    const cmp = compareOutputs({ scores: [0.1, 0.2], label: 'a' }, { scores: [0.1, 0.25], label: 'a' })
    expect(cmp).toMatchObject({ equal: false, where: 'output.scores[1]', expectedAt: 0.2, gotAt: 0.25 })
    expect(cmp.maxError).toBeCloseTo(0.05)
  })

  it('fails on different lengths or key sets', () => {
    expect(compareOutputs([1, 2], [1, 2, 3]).equal).toBe(false)
    expect(compareOutputs({ a: 1 }, { a: 1, b: 2 }).equal).toBe(false)
    expect(compareOutputs({ a: 1 }, [1]).equal).toBe(false)
  })
})
