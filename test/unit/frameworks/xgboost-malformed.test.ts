import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ServekitError } from '../../../src/errors.js'
import { loadXGBoostModel } from '../../../src/frameworks/xgboost/evaluator.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/xgboost/', import.meta.url))
const FILE = '/models/churn/3/model.json'

// Loose on purpose: the tests edit arbitrary paths of a parsed model file.
type Doc = Record<string, any>

const fixture = (name: string): Uint8Array => readFileSync(`${FIXTURES}${name}`)
const base = (): Doc => JSON.parse(readFileSync(`${FIXTURES}binary_logistic.json`, 'utf8')) as Doc
const encode = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc))

/** Loads `bytes` expecting a model_load_failed error; returns its message. */
function loadError(bytes: Uint8Array, file = FILE): string {
  try {
    loadXGBoostModel(bytes, file)
  } catch (err) {
    expect(err).toBeInstanceOf(ServekitError)
    expect((err as ServekitError).code).toBe('model_load_failed')
    const message = (err as ServekitError).message
    expect(message).toContain(file)
    return message
  }
  throw new Error('expected loadXGBoostModel to throw')
}

/** Applies `edit` to a copy of the binary_logistic fixture and returns the load error message. */
function editError(edit: (doc: Doc) => void): string {
  const doc = base()
  edit(doc)
  return loadError(encode(doc))
}

const tree0 = (doc: Doc): Doc => doc['learner']['gradient_booster']['model']['trees'][0]

describe('XGBoost evaluator rejects malformed files with model_load_failed naming the file', () => {
  it('rejects truncated JSON', () => {
    const bytes = fixture('binary_logistic.json')
    expect(loadError(bytes.subarray(0, bytes.length >> 1))).toMatch(/not valid JSON/)
  })

  it('rejects truncated UBJSON', () => {
    const bytes = fixture('binary_logistic.ubj')
    for (const cut of [bytes.length >> 1, bytes.length - 7, bytes.length - 1]) {
      expect(loadError(bytes.subarray(0, cut), '/m/model.ubj')).toMatch(/not valid UBJSON: (unexpected end|count \d+ at offset \d+ exceeds)/)
    }
  })

  it('rejects an empty file', () => {
    expect(loadError(new Uint8Array())).toMatch(/empty/)
  })

  it('rejects JSON that is not an XGBoost model', () => {
    expect(loadError(encode([1, 2]))).toMatch(/\(root\): expected an object/)
    expect(loadError(encode({ framework: 'xgboost' }))).toMatch(/missing "learner"/)
  })

  it('rejects an unknown objective and lists the supported ones', () => {
    const message = editError((d) => (d['learner']['objective']['name'] = 'survival:cox'))
    expect(message).toMatch(/learner\.objective\.name: objective "survival:cox" is not supported/)
    expect(message).toContain('binary:logistic')
  })

  it('rejects an unknown booster', () => {
    expect(editError((d) => (d['learner']['gradient_booster']['name'] = 'forest'))).toMatch(/unknown booster "forest"/)
  })

  it('rejects tree arrays whose length differs from num_nodes', () => {
    const message = editError((d) => tree0(d)['left_children'].pop())
    expect(message).toMatch(/trees\[0\]\.left_children: has \d+ elements, expected \d+/)
  })

  it('rejects non-numeric tree arrays', () => {
    expect(editError((d) => (tree0(d)['split_conditions'][0] = 'x'))).toMatch(/trees\[0\]\.split_conditions: element 0 is the string "x"/)
  })

  it('rejects a split on a feature the model does not have', () => {
    expect(editError((d) => (tree0(d)['split_indices'][0] = 30))).toMatch(/split_indices: node 0 splits on feature 30, but the model has 30/)
  })

  it('rejects children that point outside the tree or back up it', () => {
    expect(editError((d) => (tree0(d)['left_children'][0] = 999))).toMatch(/trees\[0\]: node 0 has child 999/)
    expect(editError((d) => (tree0(d)['right_children'][0] = 0))).toMatch(/trees\[0\]: node 0 has child 0/)
    expect(editError((d) => (tree0(d)['right_children'][0] = tree0(d)['left_children'][0]))).toMatch(/reached twice/)
  })

  it('rejects categorical splits, which the evaluator does not implement', () => {
    expect(editError((d) => (tree0(d)['split_type'][0] = 1))).toMatch(/split_type: node 0 is a categorical split/)
  })

  it('rejects a tree count that disagrees with num_trees or tree_info', () => {
    expect(editError((d) => (d['learner']['gradient_booster']['model']['gbtree_model_param']['num_trees'] = '3'))).toMatch(/num_trees is 3/)
    expect(editError((d) => (d['learner']['gradient_booster']['model']['tree_info'][0] = 2))).toMatch(/tree 0 is for output 2/)
  })

  it('rejects a base_score that is not a number or is outside the logistic range', () => {
    expect(editError((d) => (d['learner']['learner_model_param']['base_score'] = 'abc'))).toMatch(/base_score: "abc" is not a number/)
    expect(editError((d) => (d['learner']['learner_model_param']['base_score'] = '1.5E0'))).toMatch(/base_score must be in \(0, 1\)/)
  })

  it('rejects feature names that do not match num_feature', () => {
    expect(editError((d) => d['learner']['feature_names'].pop())).toMatch(/feature_names: has 29 names for 30 features/)
  })

  it('rejects multi-target trees', () => {
    expect(editError((d) => (tree0(d)['tree_param']['size_leaf_vector'] = '2'))).toMatch(/multi-target trees/)
  })
})

describe('XGBoost evaluator reads every base_score format', () => {
  it('reads the bracketed list XGBoost 3.1 writes, one value or one per class', () => {
    const doc = base()
    doc['learner']['learner_model_param']['base_score'] = '[3.7E-1]'
    const row = new Array(30).fill(1)
    expect(loadXGBoostModel(encode(doc), FILE).predict(row, true)).toBe(loadXGBoostModel(encode(base()), FILE).predict(row, true))

    const multi = JSON.parse(readFileSync(`${FIXTURES}multi_softprob.json`, 'utf8')) as Doc
    const plain = loadXGBoostModel(encode(multi), FILE).predict([5, 3, 1, 0.2], true) as number[]
    multi['learner']['learner_model_param']['base_score'] = '[5E-1,1.5E0,-5E-1]'
    const shifted = loadXGBoostModel(encode(multi), FILE).predict([5, 3, 1, 0.2], true) as number[]
    // Softmax has no link: each class's stored value is its starting margin.
    shifted.forEach((v, i) => expect(v - (plain[i] as number)).toBeCloseTo([0, 1, -1][i] as number, 5))
  })

  it('applies logit to binary:logitraw base_score only for files saved before 1.4', () => {
    const doc = JSON.parse(readFileSync(`${FIXTURES}binary_logitraw.json`, 'utf8')) as Doc
    const row = new Array(30).fill(Number.NaN)
    const now = loadXGBoostModel(encode(doc), FILE).predict(row, true) as number
    doc['version'] = [1, 3, 3]
    const old = loadXGBoostModel(encode(doc), FILE).predict(row, true) as number
    expect(now - old).toBeCloseTo(0.3 - Math.log(0.3 / 0.7), 5)
  })
})
