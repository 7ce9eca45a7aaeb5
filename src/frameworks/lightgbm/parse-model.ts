import { parseObjective, type Objective } from './objective.js'
import { BlockReader, loadError, readBlock, splitLines } from './text-format.js'

/**
 * Parses and checks `model.txt` into plain arrays. Every check here is one LightGBM makes when it
 * loads a model, or one whose failure would make traversal read out of bounds or loop forever.
 */

export interface ParsedTree {
  readonly numLeaves: number
  readonly numCat: number
  /** Per internal node (num_leaves - 1 of them); empty for a single-leaf tree. */
  readonly splitFeature: readonly number[]
  readonly threshold: Float64Array
  readonly decisionType: readonly number[]
  /** `>= 0`: internal node; `< 0`: leaf `~child`. */
  readonly leftChild: readonly number[]
  readonly rightChild: readonly number[]
  /** Final leaf outputs: shrinkage and the boost-from-average init score are already folded in. */
  readonly leafValue: Float64Array
  readonly catBoundaries: readonly number[]
  /** uint32 bitset words. */
  readonly catThreshold: readonly number[]
}

export interface ParsedModel {
  readonly version: string
  readonly numClass: number
  readonly numTreePerIteration: number
  readonly featureNames: readonly string[]
  readonly objective: Objective
  readonly trees: readonly ParsedTree[]
}

const CATEGORICAL = 1
const MISSING_SHIFT = 2
const UINT32_MAX = 0xffffffff

const isTreeLine = (line: string): boolean => line.startsWith('Tree=')
const isEndLine = (line: string): boolean => line.trim() === 'end of trees'

export function parseModelText(text: string, file: string): ParsedModel {
  const lines = splitLines(text)
  let i = 0
  while (i < lines.length && (lines[i] ?? '').trim() === '') i++
  const { block: headerBlock, next } = readBlock(file, lines, i, (l) => isTreeLine(l) || isEndLine(l))
  const header = new BlockReader(file, headerBlock, 'header')
  if (!header.has('version') && !headerBlock.flags.has('tree')) throw loadError(file, 'not a LightGBM text model (no "tree" / "version=" header)')
  const version = header.string('version')
  const numClass = header.int('num_class', 1)
  const numTreePerIteration = header.int('num_tree_per_iteration', 1)
  if (numTreePerIteration !== numClass) {
    throw header.fail(`num_tree_per_iteration=${numTreePerIteration} does not match num_class=${numClass}`, 'num_tree_per_iteration')
  }
  const maxFeatureIdx = header.int('max_feature_idx', 0)
  const featureNames = header.string('feature_names').split(/\s+/).filter((n) => n !== '')
  if (featureNames.length !== maxFeatureIdx + 1) {
    throw header.fail(`feature_names has ${featureNames.length} names but max_feature_idx=${maxFeatureIdx}`, 'feature_names')
  }
  const seen = new Set<string>()
  for (const name of featureNames) {
    if (seen.has(name)) throw header.fail(`feature name "${name}" appears twice`, 'feature_names')
    seen.add(name)
  }
  const objective = parseObjective(header.optionalString('objective'), numClass, (problem) => header.fail(problem, 'objective'))
  // Random forests divide the sum by the iteration count; without a reference model we refuse them.
  if (headerBlock.flags.has('average_output')) throw header.fail('boosting=rf models (average_output) are not supported')

  const trees: ParsedTree[] = []
  let ended = false
  for (i = next; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.trim() === '') continue
    if (isEndLine(line)) {
      ended = true
      break
    }
    if (!isTreeLine(line)) throw loadError(file, `line ${i + 1}: expected "Tree=${trees.length}" or "end of trees", got "${line.slice(0, 40)}"`)
    const index = line.slice('Tree='.length).trim()
    if (index !== String(trees.length)) throw loadError(file, `line ${i + 1}: expected "Tree=${trees.length}", got "${line.trim()}"`)
    const { block, next: after } = readBlock(file, lines, i + 1, (l) => isTreeLine(l) || isEndLine(l))
    trees.push(parseTree(new BlockReader(file, { ...block, line: i + 1 }, `Tree=${index}`), maxFeatureIdx))
    i = after - 1
  }
  // A file cut short between two trees parses cleanly otherwise; LightGBM always writes this line.
  if (!ended) throw loadError(file, `truncated: no "end of trees" line after ${trees.length} trees`)
  const sizes = header.optionalString('tree_sizes')
  if (sizes !== undefined && sizes !== '' && sizes.split(/\s+/).length !== trees.length) {
    throw header.fail(`tree_sizes lists ${sizes.split(/\s+/).length} trees but the file has ${trees.length}`, 'tree_sizes')
  }
  if (trees.length % numTreePerIteration !== 0) {
    throw loadError(file, `${trees.length} trees is not a multiple of num_tree_per_iteration=${numTreePerIteration}`)
  }
  return { version, numClass, numTreePerIteration, featureNames, objective, trees }
}

function parseTree(r: BlockReader, maxFeatureIdx: number): ParsedTree {
  const numLeaves = r.int('num_leaves', 1)
  const numCat = r.int('num_cat', 0)
  const leafValue = r.doubles('leaf_value', numLeaves)
  const linear = r.optionalString('is_linear')
  if (linear !== undefined && linear !== '0') throw r.fail('linear trees (is_linear=1) are not supported', 'is_linear')
  // As in LightGBM's Tree(const char*): a single leaf ignores every split field.
  if (numLeaves === 1) {
    return { numLeaves, numCat: 0, splitFeature: [], threshold: new Float64Array(0), decisionType: [], leftChild: [], rightChild: [], leafValue, catBoundaries: [], catThreshold: [] }
  }
  const n = numLeaves - 1
  const splitFeature = r.ints('split_feature', n, 0, maxFeatureIdx)
  const threshold = r.doubles('threshold', n)
  const decisionType = r.ints('decision_type', n, 0, 15)
  const leftChild = r.ints('left_child', n, -numLeaves, n - 1)
  const rightChild = r.ints('right_child', n, -numLeaves, n - 1)
  let catBoundaries: number[] = []
  let catThreshold: number[] = []
  if (numCat > 0) {
    catBoundaries = r.ints('cat_boundaries', numCat + 1, 0, Number.MAX_SAFE_INTEGER)
    const words = catBoundaries[numCat] ?? 0
    if (catBoundaries[0] !== 0 || catBoundaries.some((b, k) => k > 0 && b < (catBoundaries[k - 1] ?? 0))) {
      throw r.fail('cat_boundaries must start at 0 and never decrease', 'cat_boundaries')
    }
    catThreshold = r.ints('cat_threshold', words, 0, UINT32_MAX)
  }
  for (let node = 0; node < n; node++) {
    const dt = decisionType[node] ?? 0
    if ((dt >> MISSING_SHIFT) === 3) throw r.fail(`decision_type ${dt} at node ${node} has an unknown missing type`, 'decision_type')
    if ((dt & CATEGORICAL) === 0) continue
    const cat = threshold[node] ?? Number.NaN
    if (!Number.isInteger(cat) || cat < 0 || cat >= numCat) {
      throw r.fail(`categorical split at node ${node} points at bitset ${cat}, but num_cat=${numCat}`, 'threshold')
    }
  }
  checkShape(r, leftChild, rightChild, numLeaves)
  return { numLeaves, numCat, splitFeature, threshold, decisionType, leftChild, rightChild, leafValue, catBoundaries, catThreshold }
}

/**
 * The children must form one binary tree rooted at node 0: every other node and every leaf has
 * exactly one parent. This is what guarantees traversal ends; LightGBM trusts the file instead.
 */
function checkShape(r: BlockReader, left: readonly number[], right: readonly number[], numLeaves: number): void {
  const nodeParents = new Uint8Array(numLeaves - 1)
  const leafParents = new Uint8Array(numLeaves)
  for (const child of [...left, ...right]) {
    if (child >= 0) nodeParents[child] = (nodeParents[child] ?? 0) + 1
    else leafParents[~child] = (leafParents[~child] ?? 0) + 1
  }
  if (nodeParents[0] !== 0) throw r.fail('node 0 (the root) is a child of another node', 'left_child')
  for (let node = 1; node < numLeaves - 1; node++) {
    if (nodeParents[node] !== 1) throw r.fail(`node ${node} has ${nodeParents[node]} parents, expected 1`, 'left_child')
  }
  for (let leaf = 0; leaf < numLeaves; leaf++) {
    if (leafParents[leaf] !== 1) throw r.fail(`leaf ${leaf} has ${leafParents[leaf]} parents, expected 1`, 'left_child')
  }
  // Single parents still allow a detached cycle (1 -> 2 -> 1); count what the root reaches.
  let reached = 0
  const stack = [0]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    reached++
    for (const child of [left[node] ?? -1, right[node] ?? -1]) if (child >= 0) stack.push(child)
  }
  if (reached !== numLeaves - 1) throw r.fail(`${numLeaves - 1 - reached} internal nodes are not reachable from the root`, 'left_child')
}
