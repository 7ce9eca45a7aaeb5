import type { ParsedTree } from './parse-model.js'

/**
 * All trees of a model flattened into typed arrays, and the routing of one row through one tree.
 * The routing follows LightGBM's `Tree::NumericalDecision` / `Tree::CategoricalDecision` rule by rule;
 * it allocates nothing, so a prediction costs only its output.
 */

/** `kZeroThreshold = 1e-35f` in LightGBM: the float 1e-35 widened to double. */
export const K_ZERO_THRESHOLD = Math.fround(1e-35)

// Node kinds, decoded once from `decision_type` (bit 0 categorical, bits 2-3 missing type);
// kind 0 is missing type None: a plain comparison after NaN became 0.
const MISSING_ZERO = 1
const MISSING_NAN = 2
const KIND_CATEGORICAL = 3

export interface CompiledTrees {
  readonly numTrees: number
  /** Root of each tree: a node index, or `~leaf` (global leaf index) for a single-leaf tree. */
  readonly root: Int32Array
  /** Global index of each tree's leaf 0, to turn a global leaf back into LightGBM's per-tree index. */
  readonly leafBase: Int32Array
  readonly feature: Int32Array
  readonly threshold: Float64Array
  readonly kind: Uint8Array
  /** 1 when missing values go left (`decision_type & 2`). */
  readonly defaultLeft: Uint8Array
  /** Children: a global node index, or `~leaf` with a global leaf index. */
  readonly left: Int32Array
  readonly right: Int32Array
  /** Categorical nodes: their bitset is `catWords[catStart, catEnd)`. */
  readonly catStart: Int32Array
  readonly catEnd: Int32Array
  readonly catWords: Uint32Array
  readonly leafValue: Float64Array
}

export function compileTrees(trees: readonly ParsedTree[]): CompiledTrees {
  let nodes = 0
  let leaves = 0
  let words = 0
  for (const t of trees) {
    nodes += t.numLeaves - 1
    leaves += t.numLeaves
    words += t.catThreshold.length
  }
  const c = {
    numTrees: trees.length,
    root: new Int32Array(trees.length),
    leafBase: new Int32Array(trees.length),
    feature: new Int32Array(nodes),
    threshold: new Float64Array(nodes),
    kind: new Uint8Array(nodes),
    defaultLeft: new Uint8Array(nodes),
    left: new Int32Array(nodes),
    right: new Int32Array(nodes),
    catStart: new Int32Array(nodes),
    catEnd: new Int32Array(nodes),
    catWords: new Uint32Array(words),
    leafValue: new Float64Array(leaves),
  }
  let nodeBase = 0
  let leafBase = 0
  let wordBase = 0
  trees.forEach((t, ti) => {
    c.leafBase[ti] = leafBase
    c.leafValue.set(t.leafValue, leafBase)
    c.catWords.set(t.catThreshold, wordBase)
    c.root[ti] = t.numLeaves === 1 ? ~leafBase : nodeBase
    const relocate = (child: number): number => (child >= 0 ? nodeBase + child : ~(leafBase + ~child))
    for (let n = 0; n < t.numLeaves - 1; n++) {
      const g = nodeBase + n
      const dt = t.decisionType[n] ?? 0
      c.feature[g] = t.splitFeature[n] ?? 0
      c.threshold[g] = t.threshold[n] ?? 0
      c.kind[g] = dt & 1 ? KIND_CATEGORICAL : (dt >> 2) & 3
      c.defaultLeft[g] = dt & 2 ? 1 : 0
      c.left[g] = relocate(t.leftChild[n] ?? 0)
      c.right[g] = relocate(t.rightChild[n] ?? 0)
      if (dt & 1) {
        const cat = t.threshold[n] ?? 0
        c.catStart[g] = wordBase + (t.catBoundaries[cat] ?? 0)
        c.catEnd[g] = wordBase + (t.catBoundaries[cat + 1] ?? 0)
      }
    }
    nodeBase += t.numLeaves - 1
    leafBase += t.numLeaves
    wordBase += t.catThreshold.length
  })
  return c
}

/** The global leaf index `row` reaches in tree `t`. */
export function findLeaf(c: CompiledTrees, t: number, row: ArrayLike<number>): number {
  let node = c.root[t] ?? 0
  while (node >= 0) {
    let x = row[c.feature[node] ?? 0] ?? Number.NaN
    // LightGBM's predictors (CLI parser and C API alike) drop |x| <= kZeroThreshold as sparse zeros
    // before the trees see the row, so -0.0 and 1e-40 are exactly 0 here too.
    if (x >= -K_ZERO_THRESHOLD && x <= K_ZERO_THRESHOLD) x = 0
    const kind = c.kind[node] ?? 0
    let goLeft: boolean
    if (kind === KIND_CATEGORICAL) {
      goLeft = categoryInBitset(c, node, x)
    } else {
      // NumericalDecision: NaN counts as 0 unless the split has a NaN bucket.
      if (Number.isNaN(x) && kind !== MISSING_NAN) x = 0
      if ((kind === MISSING_ZERO && x >= -K_ZERO_THRESHOLD && x <= K_ZERO_THRESHOLD) || (kind === MISSING_NAN && Number.isNaN(x))) {
        goLeft = c.defaultLeft[node] === 1
      } else {
        goLeft = x <= (c.threshold[node] ?? 0)
      }
    }
    node = (goLeft ? c.left[node] : c.right[node]) ?? -1
  }
  return ~node
}

/**
 * CategoricalDecision: NaN and negative categories go right; others are truncated toward zero like
 * C's `static_cast<int>` (-0.5 -> 0, 2.7 -> 2) and go left when their bit is set. Categories past the
 * bitset go right; that covers huge values too, which C turns into INT_MIN and also sends right.
 */
function categoryInBitset(c: CompiledTrees, node: number, x: number): boolean {
  if (Number.isNaN(x)) return false
  const cat = Math.trunc(x)
  if (cat < 0) return false
  const start = c.catStart[node] ?? 0
  const words = (c.catEnd[node] ?? 0) - start
  if (cat >= words * 32) return false
  return (((c.catWords[start + Math.floor(cat / 32)] ?? 0) >>> cat % 32) & 1) === 1
}
