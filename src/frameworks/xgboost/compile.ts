import type { RawTree } from './parse.js'

/**
 * All trees of a model in one set of flat typed arrays, indexed by node. Nodes are renumbered
 * breadth-first from each root so the two children of a node are adjacent: the right child is
 * `child + 1`, and walking a tree is index arithmetic with no objects touched.
 */
export interface Forest {
  /** Split feature, or -1 for a leaf. */
  readonly feature: Int32Array
  /** Threshold (split) or leaf value, float32 as XGBoost stores both. */
  readonly value: Float32Array
  /** Index of the left child; the right child follows it. */
  readonly child: Int32Array
  /** 1 when a missing value goes to the right child (XGBoost's `default_left` false). */
  readonly missingRight: Uint8Array
  /** Root node of each tree, in model order. */
  readonly roots: Int32Array
  /** Output index each tree adds to. */
  readonly groups: Int32Array
  /** dart's per-tree weight, or undefined for plain gbtree (weight 1). */
  readonly weights: Float32Array | undefined
}

/** Flattens and checks the trees; throws through the tree's field with a precise message. */
export function compileForest(
  trees: readonly RawTree[],
  treeInfo: ArrayLike<number>,
  weightDrop: ArrayLike<number> | undefined,
  numFeature: number,
): Forest {
  let total = 0
  for (const t of trees) total += t.numNodes
  const feature = new Int32Array(total)
  const value = new Float32Array(total)
  const child = new Int32Array(total)
  const missingRight = new Uint8Array(total)
  const roots = new Int32Array(trees.length)

  let next = 0
  trees.forEach((tree, t) => {
    roots[t] = next
    next = compileTree(tree, next, numFeature, { feature, value, child, missingRight })
  })
  return {
    feature: feature.slice(0, next),
    value: value.slice(0, next),
    child: child.slice(0, next),
    missingRight: missingRight.slice(0, next),
    roots,
    groups: Int32Array.from(treeInfo),
    weights: weightDrop ? Float32Array.from(weightDrop) : undefined,
  }
}

interface Columns {
  feature: Int32Array
  value: Float32Array
  child: Int32Array
  missingRight: Uint8Array
}

/** Lays one tree out from `start`; returns the next free index. */
function compileTree(tree: RawTree, start: number, numFeature: number, out: Columns): number {
  const n = tree.numNodes
  const seen = new Uint8Array(n)
  // Queue of stored node ids; queue[k] lands at index start + k, so children get the next slots.
  const queue = new Int32Array(n)
  queue[0] = 0
  seen[0] = 1
  let head = 0
  let tail = 1
  while (head < tail) {
    const id = queue[head] as number
    const at = start + head
    head++
    const left = tree.left[id] as number
    if (left === -1) {
      const leaf = tree.splitCondition[id] as number
      if (!Number.isFinite(leaf)) tree.field.key('split_conditions').fail(`leaf ${id} has value ${leaf}`)
      out.feature[at] = -1
      out.value[at] = leaf
      continue
    }
    const right = tree.right[id] as number
    for (const c of [left, right]) {
      if (c < 1 || c >= n) tree.field.fail(`node ${id} has child ${c}, outside 1..${n - 1}`)
      if (seen[c]) tree.field.fail(`node ${c} is reached twice (the children arrays do not form a tree)`)
      seen[c] = 1
    }
    if (tree.splitType && tree.splitType[id] !== 0) {
      tree.field.key('split_type').fail(`node ${id} is a categorical split, which is not supported`)
    }
    const split = tree.splitIndex[id] as number
    if (split < 0 || split >= numFeature) {
      tree.field.key('split_indices').fail(`node ${id} splits on feature ${split}, but the model has ${numFeature}`)
    }
    const threshold = tree.splitCondition[id] as number
    if (Number.isNaN(threshold)) tree.field.key('split_conditions').fail(`node ${id} has threshold NaN`)
    const dl = tree.defaultLeft[id] as number
    if (dl !== 0 && dl !== 1) tree.field.key('default_left').fail(`node ${id} has ${dl}, expected 0 or 1`)
    out.feature[at] = split
    out.value[at] = threshold
    out.child[at] = start + tail
    out.missingRight[at] = dl === 1 ? 0 : 1
    queue[tail++] = left
    queue[tail++] = right
  }
  return start + tail
}
