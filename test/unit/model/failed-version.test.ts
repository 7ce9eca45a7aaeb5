import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { AnyModelClass } from '../../../src/model/interface.js'
import { toPromise } from '../../../src/model/maybe-promise.js'
import { createVersionPredict, versionThatFailed } from '../../../src/model/version-predict.js'

// Every error a version's predict gives is marked with the version, however it fails (thrown,
// rejected, refused by the schema or the output check, per batch item), so that the HTTP layer
// counts and logs the failure under the version that gave it.

const context = { parameters: {}, signal: new AbortController().signal }
const schema = z.object({ x: z.number() })

/** The error `features` gets from version "7" of `model` (undefined when it answers). */
function failure(model: Partial<AnyModelClass>, features: unknown = { x: 1 }): Promise<unknown> {
  const { predict } = createVersionPredict('m@7', { load: () => null, predict: () => 1, ...model } as AnyModelClass, null, '7')
  return toPromise(() => predict(features, context)).then(
    () => undefined,
    (err: unknown) => err,
  )
}

/** How a version fails, the code it answers with, and the features sent (a valid row when absent). */
const cases: Array<[name: string, model: Partial<AnyModelClass>, code: string, features?: unknown]> = [
  ['a synchronous throw', { predict: (): never => { throw new Error('boom') } }, 'prediction_failed'],
  ['an asynchronous rejection', { predict: async (): Promise<never> => { throw new Error('boom') } }, 'prediction_failed'],
  ['a ServekitError-shaped throw of the model', { predict: (): never => { throw Object.assign(new Error('no'), { name: 'ServekitError', code: 'invalid_request' }) } }, 'invalid_request'],
  ['features the schema refuses', { inputSchema: schema }, 'invalid_request', { x: 'one' }],
  ['features an asynchronous schema refuses', { inputSchema: schema.refine(async (f) => f.x > 0) }, 'invalid_request', { x: -1 }],
  ['an output JSON cannot carry', { predict: () => NaN }, 'invalid_output'],
  ['an asynchronous output JSON cannot carry', { predict: async () => undefined }, 'invalid_output'],
]

describe('versionThatFailed', () => {
  it.each(cases)('%s: marked with the version', async (_name, model, code, features) => {
    const err = await failure(model, features)
    expect(err).toMatchObject({ code })
    expect(versionThatFailed(err)).toBe('7')
  })

  it('marks each failed batch item, and only those', async () => {
    const model = { load: () => null, inputSchema: schema, predict: (_m: unknown, f: { x: number }) => f.x, predictBatch: (_m: unknown, list: Array<{ x: number }>) => list.map((f) => (f.x === 2 ? NaN : f.x)) }
    const { predictBatch } = createVersionPredict('m@7', model as AnyModelClass, null, '7')
    const results = await predictBatch([{ x: 1 }, { x: 'bad' }, { x: 2 }], context)
    expect(results[0]).toEqual({ output: 1 })
    for (const r of [results[1], results[2]]) expect(versionThatFailed((r as { error: unknown }).error)).toBe('7')
  })

  it('knows nothing of errors no version gave', () => {
    expect(versionThatFailed(new Error('before routing'))).toBeUndefined()
    expect(versionThatFailed('a string')).toBeUndefined()
    expect(versionThatFailed(undefined)).toBeUndefined()
  })
})
