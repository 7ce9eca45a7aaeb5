import { ServekitError } from '../../errors.js'
import { Field } from './fields.js'
import type { Version } from './objectives.js'
import { decodeUbjson, UbjsonError } from './ubjson.js'

/** One tree's arrays as stored (node i's fields at index i). */
export interface RawTree {
  readonly field: Field
  readonly numNodes: number
  readonly left: ArrayLike<number>
  readonly right: ArrayLike<number>
  readonly splitIndex: ArrayLike<number>
  readonly splitCondition: ArrayLike<number>
  readonly defaultLeft: ArrayLike<number>
  /** 0 numerical, 1 categorical; absent before XGBoost 1.6. */
  readonly splitType: ArrayLike<number> | undefined
}

/** What prediction needs from a model file, checked for shape but not yet compiled. */
export interface RawModel {
  readonly version: Version
  readonly objective: string
  readonly booster: 'gbtree' | 'dart' | 'gblinear'
  readonly numFeature: number
  /** `num_class` as stored: 0 unless multi-class. */
  readonly numClass: number
  /** Outputs per row: classes, targets (e.g. several quantiles) or 1. */
  readonly numOutputs: number
  /** One stored (untransformed) base_score per output. */
  readonly baseScore: readonly number[]
  readonly featureNames: readonly string[] | undefined
  readonly trees: readonly RawTree[]
  /** Output index of each tree. */
  readonly treeInfo: ArrayLike<number>
  /** dart: the weight of each tree. */
  readonly weightDrop: ArrayLike<number> | undefined
  /** gblinear: (numFeature + 1) x numOutputs weights, bias row last. */
  readonly linearWeights: ArrayLike<number> | undefined
  readonly learner: Field
}

/** Newest format this parser knows; files without a version are read as this. */
const LATEST: Version = [3, 1, 0]

/** Decodes JSON or UBJSON (sniffed from the bytes, not the file name). */
export function decodeModelDocument(bytes: Uint8Array, file: string): unknown {
  if (looksLikeUbjson(bytes)) {
    try {
      return decodeUbjson(bytes)
    } catch (err) {
      if (!(err instanceof UbjsonError)) throw err
      throw new ServekitError('model_load_failed', `${file}: not valid UBJSON: ${err.message}`, { cause: err })
    }
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (err) {
    throw new ServekitError('model_load_failed', `${file}: neither UTF-8 JSON nor UBJSON`, { cause: err })
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    const empty = text.trim() === '' ? ' (the file is empty)' : ''
    throw new ServekitError('model_load_failed', `${file}: not valid JSON${empty}: ${(err as Error).message}`, { cause: err })
  }
}

/** A UBJSON object starts with `{` then a length marker (or a `$`/`#` container header). */
function looksLikeUbjson(bytes: Uint8Array): boolean {
  return bytes[0] === 0x7b && bytes.length > 1 && 'iUIlL$#N}'.includes(String.fromCharCode(bytes[1] as number))
}

export function parseModel(doc: unknown, file: string): RawModel {
  const root = new Field(doc, '', file)
  const version = readVersion(root)
  const learner = root.key('learner')
  const params = learner.key('learner_model_param')
  const numFeature = params.key('num_feature').count()
  const numClass = params.key('num_class').count()
  const numTarget = params.optKey('num_target')?.count() ?? 1
  if (numClass > 1 && numTarget > 1) params.fail('both num_class and num_target are above 1')
  const numOutputs = Math.max(numClass, numTarget, 1)
  const baseScore = readBaseScore(params.key('base_score'), numOutputs)
  const objective = learner.key('objective').key('name').string()
  const featureNames = readFeatureNames(learner, numFeature)

  const gbm = learner.key('gradient_booster')
  const booster = gbm.key('name').string()
  const base = { version, objective, numFeature, numClass, numOutputs, baseScore, featureNames, learner }
  if (booster === 'gblinear') {
    const weights = gbm.key('model').key('weights').numbers((numFeature + 1) * numOutputs)
    return { ...base, booster, trees: [], treeInfo: [], weightDrop: undefined, linearWeights: weights }
  }
  if (booster !== 'gbtree' && booster !== 'dart') {
    throw gbm.key('name').error(`unknown booster "${booster}" (supported: gbtree, dart, gblinear)`)
  }
  const model = (booster === 'dart' ? gbm.key('gbtree') : gbm).key('model')
  const trees = model.key('trees').items().map(readTree)
  const numTrees = model.key('gbtree_model_param').key('num_trees').count()
  if (numTrees !== trees.length) model.key('trees').fail(`has ${trees.length} trees but num_trees is ${numTrees}`)
  const infoField = model.key('tree_info')
  const treeInfo = infoField.integers(trees.length)
  for (let i = 0; i < treeInfo.length; i++) {
    const g = treeInfo[i] as number
    if (g < 0 || g >= numOutputs) infoField.fail(`tree ${i} is for output ${g}, but the model has ${numOutputs}`)
  }
  const weightDrop = booster === 'dart' ? gbm.key('weight_drop').numbers(trees.length) : undefined
  return { ...base, booster, trees, treeInfo, weightDrop, linearWeights: undefined }
}

function readVersion(root: Field): Version {
  const field = root.optKey('version')
  if (!field) return LATEST
  const v = field.integers(3)
  return [v[0] as number, v[1] as number, v[2] as number]
}

/**
 * `base_score` is a string: one float ("5E-1") up to 3.0, a bracketed list ("[5E-1]" or one value
 * per output) from 3.1. Values are in the objective's output space except where the objective has no
 * link (softmax), so the caller applies the link per output.
 */
function readBaseScore(field: Field, numOutputs: number): number[] {
  const raw = field.value
  const text = typeof raw === 'number' ? String(raw) : field.string().trim()
  const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  const values = inner.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)))
  if (values.some((v) => !Number.isFinite(v))) field.fail(`"${text}" is not a number or list of numbers`)
  if (values.length === 1) return Array.from({ length: numOutputs }, () => values[0] as number)
  if (values.length !== numOutputs) field.fail(`has ${values.length} values for ${numOutputs} outputs`)
  return values
}

function readFeatureNames(learner: Field, numFeature: number): readonly string[] | undefined {
  const field = learner.optKey('feature_names')
  if (!field) return undefined
  const names = field.items().map((f) => f.string())
  if (names.length === 0) return undefined
  if (names.length !== numFeature) field.fail(`has ${names.length} names for ${numFeature} features`)
  const seen = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) field.fail(`duplicate feature name "${name}"`)
    seen.add(name)
  }
  return names
}

function readTree(field: Field): RawTree {
  const param = field.key('tree_param')
  const numNodes = param.key('num_nodes').count()
  if (numNodes < 1) param.key('num_nodes').fail('a tree needs at least one node')
  const leafVector = param.optKey('size_leaf_vector')?.count() ?? 0
  if (leafVector > 1) param.fail('multi-target trees (size_leaf_vector > 1) are not supported')
  return {
    field,
    numNodes,
    left: field.key('left_children').integers(numNodes),
    right: field.key('right_children').integers(numNodes),
    splitIndex: field.key('split_indices').integers(numNodes),
    splitCondition: field.key('split_conditions').numbers(numNodes),
    defaultLeft: field.key('default_left').integers(numNodes),
    splitType: field.optKey('split_type')?.integers(numNodes),
  }
}
