import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { isServekitError } from '../../../src/errors.js'
import { loadLightGBMModel } from '../../../src/frameworks/lightgbm/model.js'
import { modelText, stump, type HandTree } from '../../fixtures/lightgbm/hand-made.js'

const FILE = '/models/churn/3/model.txt'
const GOOD = readFileSync(fileURLToPath(new URL('../../fixtures/lightgbm/breast_cancer_binary.model.txt', import.meta.url)), 'utf8')

/** Loading must fail with model_load_failed, name the file, and say what is wrong. */
function expectLoadError(text: string, problem: RegExp): void {
  let caught: unknown
  try {
    loadLightGBMModel(text, FILE)
  } catch (err) {
    caught = err
  }
  expect(isServekitError(caught), 'should throw a ServekitError').toBe(true)
  expect(caught).toMatchObject({ code: 'model_load_failed' })
  expect((caught as Error).message).toContain(FILE)
  expect((caught as Error).message).toMatch(problem)
}

/** Replaces the first line starting with `prefix` (`null` deletes it). */
function editLine(text: string, prefix: string, replacement: string | null): string {
  const lines = text.split('\n')
  const i = lines.findIndex((l) => l.startsWith(prefix))
  if (i < 0) throw new Error(`no line starts with ${prefix}`)
  if (replacement === null) lines.splice(i, 1)
  else lines[i] = replacement
  return lines.join('\n')
}

const one = (tree: HandTree, features = ['x']): string => modelText({ features, trees: [tree] })

describe('malformed LightGBM models', () => {
  it('the unedited fixture loads', () => {
    expect(loadLightGBMModel(GOOD, FILE).numTrees).toBe(50)
  })

  it('empty or foreign files', () => {
    expectLoadError('', /not a LightGBM text model/)
    expectLoadError('{"learner": {}}\n', /not a LightGBM text model/)
  })

  it('truncated files', () => {
    expectLoadError(GOOD.slice(0, 300), /missing "(feature_names|objective)=|feature_names has/)
    expectLoadError(GOOD.slice(0, GOOD.indexOf('Tree=10')), /truncated: no "end of trees" line after 10 trees/)
    // Cut after a tree's leaf_value: the tree itself is complete, only the end marker tells.
    expectLoadError(GOOD.slice(0, GOOD.indexOf('leaf_weight=', GOOD.indexOf('Tree=3'))), /truncated: no "end of trees" line after 4 trees/)
    // Cut inside a tree: its arrays come up short or its keys go missing.
    expectLoadError(GOOD.slice(0, GOOD.indexOf('threshold=', GOOD.indexOf('Tree=7')) + 30), /Tree=7\): (missing "leaf_value="|"threshold" has \d+ values)/)
  })

  it('missing keys', () => {
    expectLoadError(editLine(GOOD, 'num_class=', null), /header.*missing "num_class="/)
    expectLoadError(editLine(GOOD, 'max_feature_idx=', null), /missing "max_feature_idx="/)
    expectLoadError(editLine(GOOD, 'feature_names=', null), /missing "feature_names="/)
    expectLoadError(editLine(GOOD, 'leaf_value=', null), /Tree=0\): missing "leaf_value="/)
    expectLoadError(editLine(GOOD, 'decision_type=', null), /Tree=0\): missing "decision_type="/)
    expectLoadError(editLine(GOOD, 'num_cat=', null), /Tree=0\): missing "num_cat="/)
    const cat = { ...stump(1, 0), num_cat: 1, cat_boundaries: [0, 1], cat_threshold: [3] }
    expectLoadError(editLine(one(cat), 'cat_threshold=', null), /missing "cat_threshold="/)
  })

  it('mismatched array lengths', () => {
    expectLoadError(editLine(GOOD, 'threshold=', 'threshold=1 2 3'), /line 17 \(Tree=0\): "threshold" has 3 values, expected 9/)
    expectLoadError(editLine(GOOD, 'leaf_value=', 'leaf_value=1'), /"leaf_value" has 1 values, expected 10/)
    expectLoadError(editLine(GOOD, 'feature_names=', 'feature_names=a b c'), /feature_names has 3 names but max_feature_idx=29/)
    expectLoadError(editLine(GOOD, 'tree_sizes=', 'tree_sizes=1 2 3'), /tree_sizes lists 3 trees but the file has 50/)
    const cat = { ...stump(1, 0), num_cat: 1, cat_boundaries: [0, 2], cat_threshold: [3] }
    expectLoadError(one(cat), /"cat_threshold" has 1 values, expected 2/)
  })

  it('bad values', () => {
    expectLoadError(editLine(GOOD, 'threshold=', 'threshold=1 2 3 4 5 6 7 8 0x10'), /"threshold" value #8 is not a number: "0x10"/)
    expectLoadError(editLine(GOOD, 'split_feature=', 'split_feature=22 21 7 27 15 15 10 4 30'), /"split_feature" value #8 must be an integer in \[0, 29\]/)
    expectLoadError(editLine(GOOD, 'num_leaves=', 'num_leaves=ten'), /"num_leaves" must be an integer/)
    expectLoadError(one(stump(12, 0)), /decision_type 12 at node 0 has an unknown missing type/)
    expectLoadError(one(stump(1, 0)), /categorical split at node 0 points at bitset 0, but num_cat=0/)
    expectLoadError(one({ ...stump(1, 0), num_cat: 1, cat_boundaries: [0, 1], cat_threshold: [4294967296] }), /cat_threshold/)
    expectLoadError(one(stump(0, 0)).replace('is_linear=0', 'is_linear=1'), /linear trees \(is_linear=1\) are not supported/)
    expectLoadError(GOOD.replace('Tree=5', 'Tree=6'), /expected "Tree=5", got "Tree=6"/)
  })

  it('broken tree shapes', () => {
    const tree = (left: number[], right: number[]): HandTree => ({
      num_leaves: 3,
      split_feature: [0, 0],
      threshold: [0, 1],
      decision_type: [0, 0],
      left_child: left,
      right_child: right,
      leaf_value: [1, 2, 3],
    })
    const valid = loadLightGBMModel(one(tree([1, -1], [-3, -2])), FILE)
    expect([valid.predictLeafIndex([0.5]), valid.predictLeafIndex([-1])]).toEqual([[2], [0]])
    expectLoadError(one(tree([1, -1], [-3, -4])), /"right_child" value #1 must be an integer in \[-3, 1\]/)
    expectLoadError(one(tree([1, -1], [-3, -1])), /leaf 0 has 2 parents/)
    expectLoadError(one(tree([1, 1], [-3, -2])), /node 1 has 2 parents|leaf 0 has 0 parents/)
    expectLoadError(one(tree([0, -1], [-3, -2])), /root/)
  })

  it('unsupported objectives and mismatched classes', () => {
    expectLoadError(editLine(GOOD, 'objective=', 'objective=poisson'), /unsupported objective "poisson"/)
    expectLoadError(editLine(GOOD, 'objective=', 'objective=lambdarank'), /unsupported objective "lambdarank"/)
    expectLoadError(editLine(GOOD, 'objective=', 'objective=binary'), /needs a positive "sigmoid:" parameter/)
    expectLoadError(editLine(GOOD, 'objective=', 'objective=regression sqrt'), /reg_sqrt/)
    expectLoadError(editLine(GOOD, 'objective=', 'objective=multiclass num_class:3'), /num_class:1 to match the header/)
    expectLoadError(editLine(GOOD, 'num_tree_per_iteration=', 'num_tree_per_iteration=2'), /num_tree_per_iteration=2 does not match num_class=1/)
    expectLoadError(GOOD.replace('feature_infos=', 'average_output\nfeature_infos='), /boosting=rf/)
  })
})
