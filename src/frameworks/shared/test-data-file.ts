import { access } from 'node:fs/promises'
import { ServekitError } from '../../errors.js'
import type { Artifact, TestCase, Tolerance } from '../../model/interface.js'

/**
 * The built-in classes' optional self-test file: `testdata.json` in the artifact, an array of
 * `{features, expected, tolerance?, name?}`. One reader, so every class accepts the same files and
 * rejects bad ones with the same messages (docs/frameworks.md documents the format once).
 */

export const TEST_DATA_FILE = 'testdata.json'

export interface TestDataOptions {
  /**
   * Returns the problem with an `expected` value the class can never produce (e.g. `must be a
   * number`), or undefined to accept it. Without it any JSON value is accepted.
   */
  readonly checkExpected?: (expected: unknown) => string | undefined
}

/** For classes whose output is a number or one number per class (the tree models). */
export function expectNumberOrNumbers(expected: unknown): string | undefined {
  const ok = typeof expected === 'number' || (Array.isArray(expected) && expected.every((x) => typeof x === 'number'))
  return ok ? undefined : 'must be a number or an array of numbers'
}

/**
 * The self-test cases in the artifact's `testdata.json`, or none when it is absent: the file is
 * optional, so only a present but malformed one fails the load (`model_load_failed`, naming it).
 */
export async function readTestDataFile<O>(artifact: Artifact, options: TestDataOptions = {}): Promise<TestCase<unknown, O>[]> {
  const file = artifact.path(TEST_DATA_FILE)
  try {
    await access(file)
  } catch {
    return []
  }
  return checkTestData<O>(await artifact.readJson(TEST_DATA_FILE), file, options)
}

function checkTestData<O>(data: unknown, file: string, { checkExpected }: TestDataOptions): TestCase<unknown, O>[] {
  const bad = (problem: string): ServekitError => new ServekitError('model_load_failed', `${file}: ${problem}`)
  if (!Array.isArray(data)) throw bad('must be an array of {features, expected, tolerance?, name?}')
  return data.map((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || !('features' in entry) || !('expected' in entry)) {
      throw bad(`entry ${i} needs "features" and "expected"`)
    }
    const { features, expected, tolerance, name } = entry as Record<string, unknown>
    const problem = checkExpected?.(expected)
    if (problem !== undefined) throw bad(`entry ${i}: "expected" ${problem}`)
    // The class's output type is only checked by comparison at self-test time, hence the cast.
    const test: TestCase<unknown, O> = { features, expected: expected as O }
    if (tolerance !== undefined) {
      if (!isTolerance(tolerance)) throw bad(`entry ${i}: "tolerance" must be {absolute?, relative?} with numbers >= 0`)
      test.tolerance = tolerance
    }
    if (name !== undefined) {
      if (typeof name !== 'string') throw bad(`entry ${i}: "name" must be a string`)
      test.name = name
    }
    return test
  })
}

function isTolerance(value: unknown): value is Tolerance {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const { absolute, relative } = value as Record<string, unknown>
  // `v >= 0` is false for NaN, so a NaN bound is rejected with the negatives.
  return [absolute, relative].every((v) => v === undefined || (typeof v === 'number' && v >= 0))
}
