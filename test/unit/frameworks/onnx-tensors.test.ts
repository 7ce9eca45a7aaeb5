import { describe, expect, it } from 'vitest'
import { ServekitError } from '../../../src/errors.js'
import { formatShape, outputRow, readExample, typedData } from '../../../src/frameworks/onnx/tensors.js'

// The pure conversion rules, without a session: shapes a model could declare that the fixtures do not.

describe('readExample', () => {
  it('keeps a nested array that fits, dynamic dims included', () => {
    expect(readExample('x', 'float32', [2, 2], [[1, 2], [3, 4]])).toEqual({ shape: [2, 2], data: [1, 2, 3, 4] })
    expect(readExample('x', 'float32', ['seq', 2], [[1, 2], [3, 4], [5, 6]]).shape).toEqual([3, 2])
  })

  it('reshapes a flat array or a scalar when only one shape fits', () => {
    expect(readExample('x', 'float32', [2, 2], [1, 2, 3, 4]).shape).toEqual([2, 2])
    expect(readExample('x', 'float32', ['seq', 2], [1, 2, 3, 4, 5, 6]).shape).toEqual([3, 2])
    expect(readExample('x', 'float32', [], 5)).toEqual({ shape: [], data: [5] })
    expect(readExample('x', 'float32', [], [5]).shape).toEqual([])
    expect(readExample('x', 'float32', [1], 5).shape).toEqual([1])
  })

  it('refuses to guess between several dynamic dims', () => {
    expect(() => readExample('x', 'float32', ['a', 'b'], [1, 2, 3, 4])).toThrow('input "x": expected shape [a, b] per example')
    expect(() => readExample('x', 'float32', ['', 3], [1, 2, 3, 4])).toThrow('expected shape [?, 3] per example (servekit adds the batch dim), got [4]')
  })

  it('feeds undeclared shapes as sent', () => {
    expect(readExample('x', 'int32', null, [[1], [2]])).toEqual({ shape: [2, 1], data: [1, 2] })
  })

  it('handles empty arrays and rejects scalars mixed with arrays', () => {
    expect(readExample('x', 'float32', ['n'], []).shape).toEqual([0])
    expect(readExample('x', 'float32', [2, 'n'], [[], []]).shape).toEqual([2, 0])
    expect(() => readExample('x', 'float32', null, [1, [2]])).toThrow('nested arrays must be rectangular')
    expect(() => readExample('x', 'float32', null, [[1], 2])).toThrow('nested arrays must be rectangular')
  })

  it('converts 64-bit integers to bigint and checks their range', () => {
    expect(readExample('x', 'int64', [2], [-3, '18446744073709551']).data).toEqual([-3n, 18446744073709551n])
    expect(readExample('x', 'uint64', [1], ['18446744073709551615']).data).toEqual([2n ** 64n - 1n])
    expect(() => readExample('x', 'int64', [1], ['9223372036854775808'])).toThrow(ServekitError)
    expect(() => readExample('x', 'uint64', [1], [-1])).toThrow('expected an integer (uint64)')
  })

  it('uses the label callback in errors', () => {
    expect(() => readExample('x', 'uint8', [2], [1, 256], { label: (i) => `pixel ${i}` })).toThrow('pixel 1: expected an integer in uint8 range [0, 255], got number 256')
  })

  it('puts the request path of the bad element or value in details.field', () => {
    const field = (f: () => unknown): unknown => {
      try {
        f()
      } catch (err) {
        return (err as ServekitError).details?.['field']
      }
    }
    expect(field(() => readExample('x', 'float32', [2, 2], [[1, 2], [3, 'a']]))).toBe('features.x[1][1]')
    expect(field(() => readExample('x', 'float32', [], 'a'))).toBe('features.x')
    expect(field(() => readExample('x', 'float32', [3], [1, 2]))).toBe('features.x')
    expect(field(() => readExample('x', 'float32', null, [1, [2]], { path: 'features' }))).toBe('features')
    expect(field(() => readExample('x', 'float32', [2], [1, 'a'], { path: 'features', field: (i) => `features.f${i}` }))).toBe('features.f1')
  })
})

describe('typedData and outputRow', () => {
  it('builds the array onnxruntime expects per type', () => {
    expect(typedData('bool', [[1, 0]])).toEqual(Uint8Array.from([1, 0]))
    expect(typedData('int64', [[1n]])).toEqual(BigInt64Array.from([1n]))
    expect(typedData('string', [['a']])).toEqual(['a'])
    expect(typedData('float64', [[0.1]])).toEqual(Float64Array.from([0.1]))
    // Several examples stack in order into one array.
    expect(typedData('float32', [[1, 2], [3, 4], [5, 6]])).toEqual(Float32Array.from([1, 2, 3, 4, 5, 6]))
    expect(typedData('int64', [[1n], [2n]])).toEqual(BigInt64Array.from([1n, 2n]))
    expect(typedData('string', [['a'], ['b', 'c']])).toEqual(['a', 'b', 'c'])
  })

  it('slices rows out of a batch as nested JSON', () => {
    const t = { type: 'float32' as const, data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }
    expect(outputRow(t, [2, 2], 1)).toEqual([[5, 6], [7, 8]])
    expect(outputRow(t, [], 3)).toBe(4)
    expect(outputRow({ type: 'bool', data: Uint8Array.from([0, 1]) }, [2], 0)).toEqual([false, true])
    expect(outputRow({ type: 'int64', data: BigInt64Array.from([7n, -2n]) }, [], 1)).toBe(-2)
  })

  it('formats dims for messages', () => {
    expect(formatShape(['batch', 30])).toBe('[batch, 30]')
    expect(formatShape(['', -1, 3])).toBe('[?, ?, 3]')
  })
})
