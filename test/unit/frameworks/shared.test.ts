import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ServekitError } from '../../../src/errors.js'
import { tabularLayout, toTabularRow } from '../../../src/frameworks/shared/tabular-row.js'
import { expectNumberOrNumbers, readTestDataFile, type TestDataOptions } from '../../../src/frameworks/shared/test-data-file.js'
import { openArtifact } from '../../../src/store/artifact.js'

// The helpers every built-in class shares; the classes' own tests cover them through predict and testData.

/** The ServekitError `f` throws. */
function thrown(f: () => unknown): ServekitError {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(ServekitError)
    return err as ServekitError
  }
  throw new Error('did not throw')
}

describe('toTabularRow', () => {
  const named = tabularLayout(3, ['age', 'income', 'city'])

  it('maps arrays and records to one row, NaN for null or absent', () => {
    expect([...toTabularRow([1, null, 3], named)]).toEqual([1, NaN, 3])
    expect([...toTabularRow(Float32Array.from([1, 2, 3]), named)]).toEqual([1, 2, 3])
    expect([...toTabularRow({ city: 7, age: null }, named)]).toEqual([NaN, NaN, 7])
  })

  it('allocates a row per call unless reuseRow is set', () => {
    expect(toTabularRow([1, 2, 3], named)).not.toBe(toTabularRow([1, 2, 3], named))
    const reused = tabularLayout(2, undefined, { reuseRow: true })
    expect(toTabularRow([1, 2], reused)).toBe(toTabularRow([3, 4], reused))
  })

  it('puts the request path of a bad value in details.field', () => {
    const cases: [unknown, string, string][] = [
      [[1, 'x', 3], 'features[1]', 'features[1] (feature "income") must be a number or null, got string "x"'],
      [{ age: [1] }, 'features.age', 'features.age (feature "age") must be a number or null, got array'],
      [{ colour: 1 }, 'features.colour', 'features: unknown feature "colour" (known: age, income, city)'],
    ]
    for (const [features, field, message] of cases) {
      const err = thrown(() => toTabularRow(features, named))
      expect(err.code).toBe('invalid_request')
      expect(err.message).toBe(message)
      expect(err.details).toEqual({ field })
    }
    expect(thrown(() => toTabularRow({ age: 'old' }, named, 'features[4]')).details).toEqual({ field: 'features[4].age' })
  })

  it('explains the shapes it accepts, naming features by index when the model has none', () => {
    const unnamed = tabularLayout(2, undefined, { namesHint: ' (or set names)' })
    expect(thrown(() => toTabularRow([1], named)).message).toBe('features must have 3 values, one per feature (age, income, city), got 1')
    expect(thrown(() => toTabularRow(5, named)).message).toBe('features must be an array of 3 numbers (null = missing) or an object keyed by feature name')
    expect(thrown(() => toTabularRow(5, unnamed)).message).toBe('features must be an array of 2 numbers (null = missing)')
    expect(thrown(() => toTabularRow({ a: 1 }, unnamed)).message).toBe('features: this model has no feature names, so features must be an array of 2 numbers (or set names)')
    expect(thrown(() => toTabularRow([1, true], unnamed)).message).toContain('features[1] (feature "f1")')
  })
})

describe('readTestDataFile', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'servekit-testdata-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const read = async (data: unknown, options: TestDataOptions = {}) => {
    if (data === undefined) await rm(join(dir, 'testdata.json'), { force: true })
    else await writeFile(join(dir, 'testdata.json'), JSON.stringify(data))
    return readTestDataFile(await openArtifact(dir, 'm', '1'), options)
  }

  it('reads the cases, or none when the file is absent', async () => {
    expect(await read(undefined)).toEqual([])
    const cases = [{ features: [1], expected: { y: 'a' } }, { features: {}, expected: 2, tolerance: { absolute: 0.1 }, name: 'two' }]
    expect(await read(cases)).toEqual(cases)
  })

  it('rejects malformed files with model_load_failed, naming the entry', async () => {
    const cases: [unknown, string][] = [
      [{ features: [] }, 'must be an array of {features, expected, tolerance?, name?}'],
      [[{ features: [] }], 'entry 0 needs "features" and "expected"'],
      [[{ features: [], expected: 1, tolerance: { relative: -1 } }], 'entry 0: "tolerance" must be {absolute?, relative?} with numbers >= 0'],
      [[{ features: [], expected: 1, tolerance: [0.1] }], 'entry 0: "tolerance" must be'],
      [[{ features: [], expected: 1 }, { features: [], expected: 1, name: 2 }], 'entry 1: "name" must be a string'],
    ]
    for (const [data, message] of cases) await expect(read(data)).rejects.toMatchObject({ code: 'model_load_failed', message: expect.stringContaining(message) })
  })

  it('checks expected only with checkExpected', async () => {
    const options = { checkExpected: expectNumberOrNumbers }
    expect(await read([{ features: [], expected: [0.1, 0.9] }], options)).toHaveLength(1)
    await expect(read([{ features: [], expected: 'a' }], options)).rejects.toThrow('entry 0: "expected" must be a number or an array of numbers')
    await expect(read([{ features: [], expected: [1, null] }], options)).rejects.toThrow('must be a number or an array of numbers')
    expect(await read([{ features: [], expected: 'a' }])).toHaveLength(1)
  })
})
