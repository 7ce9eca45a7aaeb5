import { ServekitError } from '../../errors.js'
import { compileForest, type Forest } from './compile.js'
import { argmax, baseMargin, expf, lookupObjective, sigmoid, softmaxInPlace, supportedObjectives, type Objective } from './objectives.js'
import { decodeModelDocument, parseModel, type RawModel } from './parse.js'

/** A loaded XGBoost model, evaluated natively with XGBoost's float32 arithmetic. */
export interface XGBoostModel {
  /** The file it was loaded from, for messages. */
  readonly file: string
  /** XGBoost version that saved the file, e.g. `1.7.4`. */
  readonly version: string
  readonly objective: string
  readonly booster: 'gbtree' | 'dart' | 'gblinear'
  readonly numFeatures: number
  /** Names saved with the model, or undefined when it was trained without any. */
  readonly featureNames: readonly string[] | undefined
  /** `num_class` as stored: the class count for multi-class models, else 0. */
  readonly numClass: number
  /** Numbers in a margin: classes for multi-class, targets for multi-target, else 1. */
  readonly numOutputs: number
  /**
   * One row's prediction. `row[i]` is feature i; NaN, null or a missing index (row too short) is
   * a missing value. Returns an array for multi-output models (softprob, any margin of a
   * multi-class model) and a number otherwise; softmax returns the class index.
   * Allocates nothing but the returned array.
   */
  predict(row: ArrayLike<number>, outputMargin: boolean): number | number[]
}

/**
 * Loads an XGBoost model saved by `save_model('*.json')` or `save_model('*.ubj')`.
 * Throws `model_load_failed` naming `file` and the problem for anything it cannot evaluate exactly.
 */
export function loadXGBoostModel(bytes: Uint8Array, file: string): XGBoostModel {
  const raw = parseModel(decodeModelDocument(bytes, file), file)
  const objective = lookupObjective(raw.objective, raw.version)
  if (!objective) {
    throw raw.learner.key('objective').key('name').error(`objective "${raw.objective}" is not supported (supported: ${supportedObjectives.join(', ')})`)
  }
  const multiClass = objective.transform === 'softprob' || objective.transform === 'softmax'
  if (multiClass && raw.numClass < 1) raw.learner.fail(`${raw.objective} needs num_class >= 1`)
  if (!multiClass && raw.numClass > 1) raw.learner.fail(`num_class is ${raw.numClass} but ${raw.objective} is not multi-class`)
  let margins: Float32Array
  try {
    margins = Float32Array.from(raw.baseScore, (s) => baseMargin(objective.link, s))
  } catch (err) {
    throw new ServekitError('model_load_failed', `${file}: learner.learner_model_param.base_score: ${(err as Error).message}`)
  }
  return new Evaluator(file, raw, objective, margins)
}

class Evaluator implements XGBoostModel {
  readonly version: string
  readonly objective: string
  readonly booster: 'gbtree' | 'dart' | 'gblinear'
  readonly numFeatures: number
  readonly featureNames: readonly string[] | undefined
  readonly numClass: number
  readonly numOutputs: number
  private readonly forest: Forest | undefined
  private readonly linear: Float32Array | undefined
  /** Reused per call: predict is synchronous, so one row is in flight at a time. */
  private readonly x: Float32Array
  private readonly acc: Float32Array

  constructor(
    readonly file: string,
    raw: RawModel,
    private readonly obj: Objective,
    private readonly base: Float32Array,
  ) {
    this.version = raw.version.join('.')
    this.objective = raw.objective
    this.booster = raw.booster
    this.numFeatures = raw.numFeature
    this.featureNames = raw.featureNames
    this.numClass = raw.numClass
    this.numOutputs = raw.numOutputs
    this.forest = raw.linearWeights ? undefined : compileForest(raw.trees, raw.treeInfo, raw.weightDrop, raw.numFeature)
    this.linear = raw.linearWeights ? Float32Array.from(raw.linearWeights) : undefined
    this.x = new Float32Array(raw.numFeature)
    this.acc = new Float32Array(raw.numOutputs)
  }

  predict(row: ArrayLike<number>, outputMargin: boolean): number | number[] {
    // Storing into a Float32Array rounds to float32 exactly as XGBoost's DMatrix does.
    const x = this.x
    const n = Math.min(row.length, this.numFeatures)
    for (let i = 0; i < n; i++) {
      const v = row[i]
      x[i] = v == null ? NaN : v
    }
    x.fill(NaN, n)
    const acc = this.acc
    acc.set(this.base)
    if (this.forest) addTrees(this.forest, x, acc)
    else addLinear(this.linear as Float32Array, x, acc)
    return this.output(acc, outputMargin)
  }

  private output(acc: Float32Array, outputMargin: boolean): number | number[] {
    const k = this.numOutputs
    const t = outputMargin ? 'identity' : this.obj.transform
    if (t === 'softmax') return argmax(acc, k)
    if (t === 'softprob') softmaxInPlace(acc, k)
    else if (t === 'sigmoid') for (let i = 0; i < k; i++) acc[i] = sigmoid(acc[i] as number)
    else if (t === 'exp') for (let i = 0; i < k; i++) acc[i] = expf(acc[i] as number)
    else if (t === 'hinge') for (let i = 0; i < k; i++) acc[i] = (acc[i] as number) > 0 ? 1 : 0
    return k === 1 ? (acc[0] as number) : Array.from(acc)
  }
}

/**
 * Adds every tree's leaf to its output, in model order, rounding each sum to float32: XGBoost
 * accumulates in a float vector tree by tree. dart scales each leaf by its float32 weight first.
 */
function addTrees(forest: Forest, x: Float32Array, acc: Float32Array): void {
  const { feature, value, child, missingRight, roots, groups, weights } = forest
  for (let t = 0; t < roots.length; t++) {
    let node = roots[t] as number
    let f = feature[node] as number
    while (f >= 0) {
      const v = x[f] as number
      // `v !== v` is NaN (missing); otherwise XGBoost goes left iff value < threshold.
      node = (child[node] as number) + (v !== v ? (missingRight[node] as number) : v < (value[node] as number) ? 0 : 1)
      f = feature[node] as number
    }
    const leaf = value[node] as number
    const g = groups[t] as number
    acc[g] = (acc[g] as number) + (weights ? Math.fround(leaf * (weights[t] as number)) : leaf)
  }
}

/** gblinear: bias + base, then weight * value for each present feature in index order. */
function addLinear(weights: Float32Array, x: Float32Array, acc: Float32Array): void {
  const k = acc.length
  const nf = x.length
  for (let g = 0; g < k; g++) {
    let sum = Math.fround((weights[nf * k + g] as number) + (acc[g] as number))
    for (let i = 0; i < nf; i++) {
      const v = x[i] as number
      if (v === v) sum = Math.fround(sum + Math.fround(v * (weights[i * k + g] as number)))
    }
    acc[g] = sum
  }
}
