import { ServekitError } from '../../errors.js'
import { compileTrees, findLeaf, type CompiledTrees } from './compiled-trees.js'
import { sigmoidOutput, softmaxInPlace, type Objective } from './objective.js'
import { parseModelText } from './parse-model.js'

/**
 * A loaded LightGBM text model. Raw scores are sums of leaf values in file order starting from 0,
 * exactly as `GBDT::PredictRaw` adds them, so they match LightGBM bit for bit.
 */
export interface LightGBMModel {
  /** `version=` from the file, e.g. `v4`. */
  readonly version: string
  readonly numFeatures: number
  readonly featureNames: readonly string[]
  /** 1 for binary and regression; K for multiclass. */
  readonly numClass: number
  readonly numTrees: number
  readonly objective: Objective
  /**
   * One row (NaN = missing) in `featureNames` order. Returns a number when `numClass` is 1, else one
   * value per class. `raw` skips the objective's transform (sigmoid, softmax).
   */
  predict(row: ArrayLike<number>, raw: boolean): number | number[]
  /** The leaf reached in each tree, numbered as LightGBM's `predict_leaf_index` does. */
  predictLeafIndex(row: ArrayLike<number>): number[]
}

/** Parses `model.txt` text; `file` names the artifact in errors. Throws `model_load_failed`. */
export function loadLightGBMModel(text: string, file: string): LightGBMModel {
  const parsed = parseModelText(text, file)
  return new CompiledModel(parsed.version, parsed.featureNames, parsed.numClass, parsed.objective, compileTrees(parsed.trees))
}

class CompiledModel implements LightGBMModel {
  readonly numFeatures: number
  readonly numTrees: number

  constructor(
    readonly version: string,
    readonly featureNames: readonly string[],
    readonly numClass: number,
    readonly objective: Objective,
    private readonly trees: CompiledTrees,
  ) {
    this.numFeatures = featureNames.length
    this.numTrees = trees.numTrees
  }

  predict(row: ArrayLike<number>, raw: boolean): number | number[] {
    this.checkRow(row)
    const c = this.trees
    if (this.numClass === 1) {
      let sum = 0
      for (let t = 0; t < c.numTrees; t++) sum += c.leafValue[findLeaf(c, t, row)] ?? 0
      if (raw || this.objective.transform !== 'sigmoid') return sum
      return sigmoidOutput(sum, this.objective.sigmoid)
    }
    // Trees interleave by iteration (class 0, 1, …, K-1, 0, 1, …): tree t feeds class t % K.
    const out = new Array<number>(this.numClass).fill(0)
    for (let t = 0; t < c.numTrees; t++) {
      const k = t % this.numClass
      out[k] = (out[k] ?? 0) + (c.leafValue[findLeaf(c, t, row)] ?? 0)
    }
    if (!raw && this.objective.transform === 'softmax') softmaxInPlace(out)
    return out
  }

  predictLeafIndex(row: ArrayLike<number>): number[] {
    this.checkRow(row)
    const c = this.trees
    const out = new Array<number>(c.numTrees)
    for (let t = 0; t < c.numTrees; t++) out[t] = findLeaf(c, t, row) - (c.leafBase[t] ?? 0)
    return out
  }

  private checkRow(row: ArrayLike<number>): void {
    if (row.length !== this.numFeatures) {
      throw new ServekitError('invalid_request', `expected ${this.numFeatures} features, got ${row.length}`)
    }
  }
}
