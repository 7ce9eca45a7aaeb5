import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_TOLERANCE } from '../../../src/model/compare.js'
import {
  checkExpectations,
  currentCases,
  describeDifference,
  expectationsPath,
  formatError,
  formatExpectations,
  parseExpectations,
  readExpectations,
  recordExpectations,
  resolveTolerance,
  sameExpectations,
  writeExpectations,
  type CheckedVersion,
  type ReadExpectations,
  type StoredExpectations,
} from '../../../src/model/expectations.js'
import { compareOutputs } from '../../../src/model/compare.js'
import type { AnyModelClass, Artifact } from '../../../src/model/interface.js'
import { createVersionPredict } from '../../../src/model/version-predict.js'

const artifact = { name: 'm', version: '1', dir: '/nowhere', manifest: {} } as unknown as Artifact

/** A loaded version of `model`, as the registry would hand it over (load already ran). */
async function version(model: AnyModelClass, v = '1'): Promise<CheckedVersion> {
  const instance = await model.load(artifact, { options: {} })
  const { predict } = createVersionPredict(`m@${v}`, model, instance, v)
  return { modelId: 'm', version: v, modelClass: model, artifact, instance, predict }
}

/** y = w * x, plus a label; `w` and the cases are parameters so tests can "change the model". */
function linear(w: number, cases: Array<{ name?: string; x: number }> = [{ name: 'one', x: 1 }, { name: 'two', x: 2 }]): AnyModelClass {
  return {
    load: () => ({ w }),
    predict: (m: { w: number }, f: { x: number }) => ({ y: m.w * f.x, label: f.x > 1 ? 'big' : 'small', n: Math.round(f.x) }),
    testData: cases.map((c) => ({ ...(c.name === undefined ? {} : { name: c.name }), features: { x: c.x }, expected: null })),
  }
}

const ok = (expectations: StoredExpectations): ReadExpectations => ({ status: 'ok', path: '/t/m.json', expectations })

async function recorded(model: AnyModelClass): Promise<StoredExpectations> {
  const r = await recordExpectations(await version(model), DEFAULT_TOLERANCE, new Date('2025-01-02T03:04:05Z'))
  if (r.status !== 'recorded') throw new Error(`not recorded: ${r.message}`)
  return r.expectations
}

describe('recordExpectations', () => {
  it("stores each testData case's features and the output the version gives now", async () => {
    const e = await recorded(linear(0.5))
    expect(e).toEqual({
      model_id: 'm',
      model_version: '1',
      updated_at: '2025-01-02T03:04:05.000Z',
      cases: [
        { name: 'one', features: { x: 1 }, expected: { y: 0.5, label: 'small', n: 1 } },
        { name: 'two', features: { x: 2 }, expected: { y: 1, label: 'big', n: 2 } },
      ],
    })
  })

  it('names unnamed cases by index and makes repeated names unique', async () => {
    const cases = await currentCases(await version(linear(1, [{ x: 1 }, { name: 'same', x: 2 }, { name: 'same', x: 3 }, { x: 4 }])))
    expect(cases.map((c) => c.name)).toEqual(['case 0', 'same', 'same (2)', 'case 3'])
  })

  it('reads cases from a testData function (as the built-in classes do from testdata.json)', async () => {
    const model: AnyModelClass = { load: () => 3, predict: (m: number, f: number) => m * f, testData: async (_a: Artifact, m: number) => [{ features: m, expected: 9 }] }
    const e = await recorded(model)
    expect(e.cases).toEqual([{ name: 'case 0', features: 3, expected: 9 }])
  })

  it('refuses a model without testData', async () => {
    const r = await recordExpectations(await version({ load: () => 1, predict: () => 1 }), DEFAULT_TOLERANCE)
    expect(r).toMatchObject({ status: 'refused', message: expect.stringContaining('no testData cases') })
  })

  it('refuses when a case throws, naming it', async () => {
    const model: AnyModelClass = { ...linear(1), predict: (_m: unknown, f: { x: number }) => (f.x > 1 ? boom() : { y: 1 }) }
    const r = await recordExpectations(await version(model), DEFAULT_TOLERANCE)
    expect(r.status).toBe('refused')
    if (r.status !== 'refused') return
    expect(r.message).toBe('1 of 2 cases cannot be recorded')
    expect(r.problems).toEqual([expect.objectContaining({ name: 'two', got: undefined, error: expect.stringContaining('prediction_failed: m@1: predict threw: boom') })])
  })

  it('refuses an output JSON cannot store exactly (a nested NaN)', async () => {
    const model: AnyModelClass = { ...linear(1), predict: () => ({ scores: [0.1, Number.NaN] }) }
    const r = await recordExpectations(await version(model), DEFAULT_TOLERANCE)
    expect(r.status).toBe('refused')
    // The version itself refuses the output (as it would over HTTP), naming where the NaN is.
    if (r.status === 'refused') expect(r.problems[0]?.error).toBe('invalid_output: m@1: predict returned NaN at output.scores[1]')
  })

  it('refuses a model whose outputs change from one run to the next', async () => {
    let calls = 0
    const model: AnyModelClass = { ...linear(1), predict: () => ({ y: 0.5 + ++calls * 1e-3 }) }
    const r = await recordExpectations(await version(model), DEFAULT_TOLERANCE)
    expect(r).toMatchObject({ status: 'refused', message: 'outputs are not reproducible: a second run differs in 2 of 2 cases' })
  })

  it('stores features as JSON, as a request would carry them', async () => {
    const model: AnyModelClass = { load: () => 0, predict: (_m: unknown, f: { a: number; b?: number }) => f.b ?? -1, testData: [{ features: { a: 1, b: undefined }, expected: -1 }] }
    expect((await recorded(model)).cases[0]).toEqual({ name: 'case 0', features: { a: 1 }, expected: -1 })
  })
})

describe('checkExpectations', () => {
  it('passes when every stored case gives the stored output', async () => {
    const stored = await recorded(linear(0.5))
    const check = await checkExpectations(await version(linear(0.5)), ok(stored), DEFAULT_TOLERANCE)
    expect(check).toMatchObject({ status: 'passed', message: undefined, storedVersion: '1', maxError: 0 })
    expect(check.cases.map((c) => [c.name, c.passed])).toEqual([['one', true], ['two', true]])
  })

  it('accepts float drift within the tolerance and reports the largest', async () => {
    const stored = await recorded(linear(0.5))
    const check = await checkExpectations(await version(linear(0.5 + 1e-9)), ok(stored), DEFAULT_TOLERANCE)
    expect(check.status).toBe('passed')
    expect(check.maxError).toBeCloseTo(2e-9, 15)
  })

  it('fails a float outside the tolerance, saying where and by how much', async () => {
    const stored = await recorded(linear(0.5))
    const check = await checkExpectations(await version(linear(0.51)), ok(stored), { absolute: 1e-6, relative: 0 })
    expect(check.status).toBe('failed')
    const two = check.cases.find((c) => c.name === 'two')
    expect(two).toMatchObject({ passed: false, kind: 'mismatch', expected: { y: 1, label: 'big', n: 2 }, got: { y: 1.02, label: 'big', n: 2 } })
    expect(two?.error).toBe('output.y: expected 1, got 1.02 (off by 2.0e-2, tolerance 1.0e-6)')
    expect(check.maxError).toBeCloseTo(0.02)
  })

  it('uses the given tolerance, so a per-model tolerance can accept larger drift', async () => {
    const stored = await recorded(linear(0.5))
    const check = await checkExpectations(await version(linear(0.51)), ok(stored), { absolute: 0.05 })
    expect(check.status).toBe('passed')
  })

  it('compares strings, booleans and integers exactly', async () => {
    const stored = await recorded(linear(0.5))
    const model: AnyModelClass = { ...linear(0.5), predict: (m: { w: number }, f: { x: number }) => ({ y: m.w * f.x, label: 'small', n: Math.round(f.x) + (f.x > 1 ? 1 : 0) }) }
    const check = await checkExpectations(await version(model), ok(stored), { absolute: 10 })
    expect(check.cases.find((c) => c.name === 'two')?.error).toBe('output.label: expected "big", got "small"')
    const intModel: AnyModelClass = { ...linear(0.5), predict: (m: { w: number }, f: { x: number }) => ({ y: m.w * f.x, label: f.x > 1 ? 'big' : 'small', n: 7 }) }
    const intCheck = await checkExpectations(await version(intModel), ok(stored), { absolute: 10 })
    expect(intCheck.cases[0]?.error).toBe('output.n: expected 1, got 7 (integers must be equal)')
  })

  it('reports a case whose predict throws as an error with the message', async () => {
    const stored = await recorded(linear(0.5))
    const model: AnyModelClass = { ...linear(0.5), predict: () => boom() }
    const check = await checkExpectations(await version(model), ok(stored), DEFAULT_TOLERANCE)
    expect(check.cases[0]).toMatchObject({ passed: false, kind: 'threw', got: undefined, error: 'prediction_failed: m@1: predict threw: boom' })
  })

  it('fails cases added to testData, removed from it, or whose features changed, asking for --update', async () => {
    const stored = await recorded(linear(0.5, [{ name: 'one', x: 1 }, { name: 'two', x: 2 }, { name: 'three', x: 3 }]))
    const now = linear(0.5, [{ name: 'one', x: 1 }, { name: 'two', x: 20 }, { name: 'four', x: 4 }])
    const check = await checkExpectations(await version(now), ok(stored), DEFAULT_TOLERANCE)
    expect(check.status).toBe('failed')
    expect(check.cases.map((c) => [c.name, c.passed, c.kind, c.error])).toEqual([
      ['one', true, undefined, undefined],
      ['two', false, 'out_of_date', 'features changed in testData since they were stored (run servekit test --update)'],
      ['three', false, 'out_of_date', 'stored, but no longer in testData (run servekit test --update)'],
      ['four', false, 'out_of_date', 'in testData, but not stored (run servekit test --update)'],
    ])
  })

  it('treats features that differ only in key order as unchanged', async () => {
    const model: AnyModelClass = { load: () => 0, predict: (_m: unknown, f: { a: number; b: number }) => f.a + f.b, testData: [{ name: 'k', features: { a: 1, b: 2 }, expected: 3 }] }
    const stored: StoredExpectations = { model_id: 'm', model_version: '1', updated_at: 'x', cases: [{ name: 'k', features: { b: 2, a: 1 }, expected: 3 }] }
    expect((await checkExpectations(await version(model), ok(stored), DEFAULT_TOLERANCE)).status).toBe('passed')
  })

  it('says so when nothing is stored, and does not pass', async () => {
    const check = await checkExpectations(await version(linear(1)), { status: 'missing', path: '/t/m.json' }, DEFAULT_TOLERANCE)
    expect(check).toMatchObject({ status: 'missing', message: 'no stored expectations (run servekit test --update)', cases: [] })
  })

  it('says so when the model has no testData at all', async () => {
    const check = await checkExpectations(await version({ load: () => 1, predict: () => 1 }), { status: 'missing', path: '/t/m.json' }, DEFAULT_TOLERANCE)
    expect(check.status).toBe('no_cases')
    expect(check.message).toContain('no testData cases')
  })

  it('reports a malformed file as invalid, naming the file and the problem', async () => {
    const check = await checkExpectations(await version(linear(1)), { status: 'invalid', path: '/t/m.json', problem: '"cases" must be an array' }, DEFAULT_TOLERANCE)
    expect(check).toMatchObject({ status: 'invalid', message: '/t/m.json: "cases" must be an array' })
  })

  it('records which version the stored outputs came from', async () => {
    const stored = await recorded(linear(0.5))
    const check = await checkExpectations(await version(linear(0.5), '2'), ok(stored), DEFAULT_TOLERANCE)
    expect(check.storedVersion).toBe('1')
  })
})

describe('the stored file', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'servekit-expectations-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('is pretty-printed JSON with a fixed header order, sorted keys inside, and a trailing newline', () => {
    const text = formatExpectations({
      cases: [{ expected: { z: 1, a: [{ y: 2, b: 3 }] }, features: { tenure: 2, age: 40 }, name: 'c' }],
      updated_at: '2025-01-01T00:00:00.000Z',
      model_version: '3',
      model_id: 'churn',
    } as StoredExpectations)
    expect(text).toBe(
      [
        '{',
        '  "model_id": "churn",',
        '  "model_version": "3",',
        '  "updated_at": "2025-01-01T00:00:00.000Z",',
        '  "cases": [',
        '    {',
        '      "name": "c",',
        '      "features": {',
        '        "age": 40,',
        '        "tenure": 2',
        '      },',
        '      "expected": {',
        '        "a": [',
        '          {',
        '            "b": 3,',
        '            "y": 2',
        '          }',
        '        ],',
        '        "z": 1',
        '      }',
        '    }',
        '  ]',
        '}',
        '',
      ].join('\n'),
    )
  })

  it('round-trips through write and read, creating the directory', async () => {
    const e = await recorded(linear(0.25))
    const sub = join(dir, 'nested', 'testdata')
    const path = await writeExpectations(sub, e)
    expect(path).toBe(expectationsPath(sub, 'm'))
    expect(path.endsWith(join('nested', 'testdata', 'm.json'))).toBe(true)
    const back = await readExpectations(sub, 'm')
    expect(back).toEqual({ status: 'ok', path, expectations: e })
    expect(await readFile(path, 'utf8')).toBe(formatExpectations(e))
  })

  it('reads a missing file as missing, and a malformed one as invalid with the reason', async () => {
    expect(await readExpectations(dir, 'absent')).toEqual({ status: 'missing', path: join(dir, 'absent.json') })
    await writeFile(join(dir, 'bad.json'), '{"model_id": "bad", "model_version": "1", "updated_at": "x", "cases": {}}')
    expect(await readExpectations(dir, 'bad')).toMatchObject({ status: 'invalid', problem: '"cases" must be an array of {name, features, expected}' })
    await writeFile(join(dir, 'trunc.json'), '{"model_id": ')
    expect(await readExpectations(dir, 'trunc')).toMatchObject({ status: 'invalid', problem: expect.stringMatching(/^not valid JSON/) })
  })

  it('rejects a file written for another model, a case without expected, and repeated names', () => {
    const head = { model_id: 'm', model_version: '1', updated_at: 'x' }
    expect(() => parseExpectations(JSON.stringify({ ...head, model_id: 'other', cases: [] }), 'm')).toThrow('"model_id" is "other", expected "m"')
    expect(() => parseExpectations(JSON.stringify({ ...head, cases: [{ name: 'a', features: 1 }] }), 'm')).toThrow('cases[0] needs "name" (a string), "features" and "expected"')
    expect(() => parseExpectations(JSON.stringify({ ...head, cases: [{ name: 'a', features: 1, expected: 1 }, { name: 'a', features: 2, expected: 2 }] }), 'm')).toThrow('cases[1]: duplicate name "a"')
    expect(() => parseExpectations(JSON.stringify({ ...head, model_version: 1, cases: [] }), 'm')).toThrow('"model_version" must be a string')
  })

  it('counts as the same when only updated_at differs, so --update leaves it alone', async () => {
    const a = await recorded(linear(0.5))
    expect(sameExpectations(a, { ...a, updated_at: '1999-01-01T00:00:00.000Z' })).toBe(true)
    expect(sameExpectations(a, { ...a, model_version: '2' })).toBe(false)
    expect(sameExpectations(a, await recorded(linear(0.6)))).toBe(false)
  })
})

describe('tolerance and messages', () => {
  it('takes the config tolerance, else the class tolerance, else the default', () => {
    expect(resolveTolerance({ tolerance: { absolute: 1 } }, { tolerance: { absolute: 2 } })).toEqual({ absolute: 1 })
    expect(resolveTolerance({ tolerance: undefined }, { tolerance: { absolute: 2 } })).toEqual({ absolute: 2 })
    expect(resolveTolerance({ tolerance: undefined }, {})).toEqual(DEFAULT_TOLERANCE)
  })

  it('describes differences of shape for people', () => {
    const describe_ = (want: unknown, got: unknown): string => describeDifference(compareOutputs(want, got), DEFAULT_TOLERANCE)
    expect(describe_([1, 2], [1, 2, 3])).toBe('output: expected 2 items, got 3')
    expect(describe_({ a: 1, b: 2 }, { a: 1, c: 2 })).toBe('output: missing b; unexpected c')
    expect(describe_({ a: 1 }, [1])).toBe('output: expected {"a":1}, got [1]')
    expect(describe_(0.5, 0.75)).toBe('output: expected 0.5, got 0.75 (off by 2.5e-1, tolerance 1.5e-6)')
  })

  it('formats errors compactly', () => {
    expect(formatError(0)).toBe('0')
    expect(formatError(3.2e-8)).toBe('3.2e-8')
    expect(formatError(150)).toBe('1.5e+2')
  })
})

function boom(): never {
  throw new Error('boom')
}
