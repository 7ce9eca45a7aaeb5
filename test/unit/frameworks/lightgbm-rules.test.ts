import { describe, expect, it } from 'vitest'
import { loadLightGBMModel } from '../../../src/frameworks/lightgbm/model.js'
import { modelText, stump, type HandTree } from '../../fixtures/lightgbm/hand-made.js'

/**
 * LightGBM's routing rules on hand-made trees, for cases the CLI fixtures do not reach (none of them
 * has a missing-type-Zero split, a categorical split with missing bits, or sigmoid != 1).
 * Expected directions are derived by hand from Tree::NumericalDecision / CategoricalDecision and the
 * predictors' sparse-zero rule (|x| <= kZeroThreshold is read as 0).
 */

const K = 1.0000000180025095e-35 // kZeroThreshold = 1e-35f as a double
const NEXT_AFTER_ONE = 1.0000000000000002

type Side = 'left' | 'right'

/** Routes x through one split; checks leaf index and raw score agree (left leaf = 1, right leaf = 2). */
function route(tree: HandTree, x: number): Side {
  const model = loadLightGBMModel(modelText({ features: ['x'], trees: [tree] }), 'hand.txt')
  const leaf = model.predictLeafIndex([x])[0]
  expect(model.predict([x], true)).toBe(leaf === 0 ? 1 : 2)
  return leaf === 0 ? 'left' : 'right'
}

describe('numerical splits', () => {
  // [decision_type, threshold, x, side, why]
  const cases: [number, number, number, Side, string][] = [
    // Missing type Zero (dt 4 = default right, 6 = default left): the kZero band takes the default side.
    [6, -1, 0, 'left', 'zero goes default-left though 0 > threshold'],
    [6, -1, -0, 'left', '-0.0 is zero'],
    [6, -1, 1e-40, 'left', '1e-40 is inside the kZero band'],
    [6, -1, K, 'left', 'the band is inclusive at +kZero'],
    [6, -1, -K, 'left', 'the band is inclusive at -kZero'],
    [6, -1, 1e-30, 'right', '1e-30 is not zero, so it is compared: 1e-30 > -1'],
    [6, -1, Number.NaN, 'left', 'NaN becomes 0 under missing type Zero, then takes the default'],
    [6, -1, -5, 'left', 'non-zero values are compared'],
    [6, -1, 3, 'right', 'non-zero values are compared'],
    [4, 1, 0, 'right', 'zero goes default-right though 0 <= threshold'],
    [4, 1, Number.NaN, 'right', 'NaN -> 0 -> default right'],
    [4, 1, 1e-40, 'right', 'inside the band'],
    [4, 1, 2e-35, 'left', '2e-35 is outside the band: 2e-35 <= 1'],
    [4, 1, 0.5, 'left', 'compared'],
    [4, 1, 2, 'right', 'compared'],
    // Missing type None (dt 0 = default right, 2 = default left): NaN is compared as 0, default ignored.
    [0, 0.5, Number.NaN, 'left', 'NaN as 0: 0 <= 0.5 although default is right'],
    [0, -0.5, Number.NaN, 'right', 'NaN as 0: 0 > -0.5'],
    [2, -0.5, Number.NaN, 'right', 'default-left does not apply under None'],
    [2, 0.5, Number.NaN, 'left', 'NaN as 0: 0 <= 0.5'],
    [0, 1, 1, 'left', 'a value equal to the threshold goes left (<=)'],
    [0, 1, NEXT_AFTER_ONE, 'right', 'nextafter(threshold) goes right'],
    [0, 0, 1e-40, 'left', 'predictors read 1e-40 as 0, and 0 <= 0'],
    [0, -K, -K, 'right', 'predictors read -kZero as 0, and 0 > -kZero'],
    [0, -K, -2e-35, 'left', '-2e-35 is kept and -2e-35 <= -kZero'],
    [0, 0, 1e-30, 'right', '1e-30 is kept'],
    [0, 0, Infinity, 'right', '+inf > threshold'],
    [0, 0, -Infinity, 'left', '-inf <= threshold'],
    // Missing type NaN (dt 8 = default right, 10 = default left): only NaN takes the default.
    [8, 0, Number.NaN, 'right', 'NaN -> default right'],
    [10, 0, Number.NaN, 'left', 'NaN -> default left'],
    [8, 0, 0, 'left', 'zero is an ordinary value under missing type NaN'],
    [10, -1, 0, 'right', 'zero is compared, not defaulted: 0 > -1'],
    [10, 0, 5, 'right', 'compared'],
    [8, 0, -1, 'left', 'compared'],
  ]
  for (const [dt, threshold, x, side, why] of cases) {
    it(`decision_type=${dt} threshold=${threshold} x=${Object.is(x, -0) ? '-0' : x} -> ${side}: ${why}`, () => {
      expect(route(stump(dt, threshold), x)).toBe(side)
    })
  }
})

/** A categorical split on bitset 0, which spans two uint32 words. */
function catStump(decisionType: number, words: [number, number]): HandTree {
  return { ...stump(decisionType, 0), num_cat: 1, cat_boundaries: [0, 2], cat_threshold: words }
}

describe('categorical splits with a 2-word bitset', () => {
  // Categories {1, 3, 31, 32, 40, 63}: word 0 = 2^1 + 2^3 + 2^31, word 1 = 2^(32-32) + 2^(40-32) + 2^(63-32).
  const highBits: [number, number] = [2147483658, 2147483905]
  const highCases: [number, Side][] = [
    [1, 'left'], [2, 'right'], [3, 'left'], [3.9, 'left'], [31, 'left'], [31.9, 'left'], [32, 'left'],
    [33, 'right'], [40, 'left'], [63, 'left'], [64, 'right'], [0, 'right'], [-1, 'right'], [Number.NaN, 'right'],
    [1e6, 'right'], [1e300, 'right'], [Infinity, 'right'], [-Infinity, 'right'], [2 ** 31 + 1, 'right'],
  ]
  for (const [x, side] of highCases) {
    it(`{1,3,31,32,40,63}: category ${x} -> ${side}`, () => expect(route(catStump(1, highBits), x)).toBe(side))
  }

  // Categories {0, 33}: word 0 = 1, word 1 = 2. Tells trunc from floor and NaN from category 0.
  const zeroCases: [number, Side, string][] = [
    [0, 'left', 'category 0'],
    [-0.5, 'left', 'truncated toward zero to 0 (floor would give -1)'],
    [-0.99, 'left', 'truncated to 0'],
    [1e-40, 'left', 'read as 0'],
    [-1, 'right', 'negative'],
    [Number.NaN, 'right', 'NaN goes right, it is not category 0'],
    [33, 'left', 'bit 1 of word 1'],
    [33.5, 'left', 'truncated to 33'],
    [32, 'right', 'bit 0 of word 1 is clear'],
  ]
  // Categorical splits ignore default_left and the missing-type bits: 9 = NaN, 11 = NaN + default left, 5 = Zero.
  for (const dt of [1, 9, 11, 5]) {
    for (const [x, side, why] of zeroCases) {
      it(`{0,33} decision_type=${dt}: ${x} -> ${side} (${why})`, () => expect(route(catStump(dt, [1, 2]), x)).toBe(side))
    }
  }
})

describe('objectives and sums', () => {
  const single = (value: number): HandTree => ({ num_leaves: 1, leaf_value: [value] })

  it('binary applies the sigmoid: parameter', () => {
    const m = loadLightGBMModel(modelText({ features: ['x'], objective: 'binary sigmoid:2', trees: [single(0.3)] }), 'b.txt')
    expect(m.predict([0], true)).toBe(0.3)
    expect(m.predict([0], false)).toBeCloseTo(0.6456563062257954, 15) // 1 / (1 + e^(-2 * 0.3))
    const neg = loadLightGBMModel(modelText({ features: ['x'], objective: 'binary sigmoid:2', trees: [single(-1.25)] }), 'b.txt')
    expect(neg.predict([0], false)).toBeCloseTo(0.07585818002124355, 15) // 1 / (1 + e^(2.5))
  })

  it('sums trees in file order starting from 0', () => {
    const m = loadLightGBMModel(modelText({ features: ['x'], trees: [single(0.1), single(0.2)] }), 'r.txt')
    expect(m.predict([0], false)).toBe(0.30000000000000004)
    expect(m.predictLeafIndex([0])).toEqual([0, 0])
  })

  it('multiclass: tree t feeds class t % K, softmax over the sums', () => {
    const trees = [single(1), single(0), single(-1), single(0.5), single(0), single(0)]
    const m = loadLightGBMModel(modelText({ features: ['x'], objective: 'multiclass num_class:3', numClass: 3, trees }), 'm.txt')
    expect(m.predict([0], true)).toEqual([1.5, 0, -1])
    const p = m.predict([0], false) as number[]
    const e = [Math.exp(0), Math.exp(-1.5), Math.exp(-2.5)]
    const sum = e[0]! + e[1]! + e[2]!
    expect(p).toEqual(e.map((v) => v / sum))
  })

  it('identity objectives and custom-objective models return raw scores', () => {
    for (const objective of ['regression', 'regression_l1', 'huber', 'fair c:1', 'quantile alpha:0.9', 'mape', null]) {
      const m = loadLightGBMModel(modelText({ features: ['x'], objective, trees: [single(-3.5)] }), 'i.txt')
      expect(m.predict([0], false)).toBe(-3.5)
      expect(m.objective.transform).toBe('identity')
    }
  })
})
