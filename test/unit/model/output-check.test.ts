import { describe, expect, it } from 'vitest'
import type { AnyModelClass } from '../../../src/model/interface.js'
import { toPromise } from '../../../src/model/maybe-promise.js'
import { createVersionPredict } from '../../../src/model/version-predict.js'

/** What a version answers when its model returns `output` (a throw becomes a rejection). */
function answer(output: unknown): Promise<unknown> {
  const model: AnyModelClass = { load: () => null, predict: () => output }
  const { predict } = createVersionPredict('m@1', model, null, '1')
  return toPromise(() => predict({}, { parameters: undefined, signal: new AbortController().signal } as never))
}

describe('a version refuses outputs JSON cannot carry, naming where', () => {
  it.each([
    [NaN, 'predict returned NaN'],
    [-Infinity, 'predict returned -Infinity'],
    [{ label: 'a', scores: [0.25, NaN] }, 'NaN at output.scores[1]'],
    [{ margin: Infinity }, 'Infinity at output.margin'],
    [[[1, 2], [3, -Infinity]], '-Infinity at output[1][1]'],
    [{ logits: new Float32Array([0.5, NaN]) }, 'NaN at output.logits[1]'],
    [{ big: new BigInt64Array([1n]) }, 'a BigInt64Array at output.big'],
    [{ scores: [{ count: 12n }] }, 'a bigint at output.scores[0].count'],
  ])('%o: invalid_output, "%s"', async (output, message) => {
    const err = await answer(output).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ code: 'invalid_output' })
    expect((err as Error).message).toContain(message)
  })

  it.each([[{ label: 'a', scores: [0.25, 0.75] }], [[1, -0, 1e308, null, 'x', true]], [{ logits: new Float64Array([1, 2]) }], [{ at: new Date(0) }], [0], ['text']])('%o: passes as it is', async (output) => {
    expect(await answer(output)).toBe(output)
  })
})
