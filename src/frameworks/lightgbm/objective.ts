/**
 * The `objective=` header line and the output transform it implies, as LightGBM's
 * `ObjectiveFunction::ConvertOutput` does it. Only objectives whose transform is certain are
 * accepted; anything else fails the load instead of serving silently wrong numbers.
 */

export type OutputTransform = 'identity' | 'sigmoid' | 'softmax'

export interface Objective {
  /** First token of the line, e.g. `binary`; `none` when the file has no objective (custom objective). */
  readonly name: string
  readonly transform: OutputTransform
  /** `sigmoid:` parameter of `binary` (the slope inside the logistic); 1 otherwise. */
  readonly sigmoid: number
}

/**
 * Objectives deriving from LightGBM's `RegressionL2loss` without overriding `ConvertOutput`:
 * their prediction is the raw score unless `reg_sqrt` added a `sqrt` token.
 */
const IDENTITY_OBJECTIVES = new Set(['regression', 'regression_l1', 'huber', 'fair', 'quantile', 'mape'])

export const SUPPORTED_OBJECTIVES = ['binary', 'multiclass', ...IDENTITY_OBJECTIVES] as const

/**
 * Parses the objective line. `numClass` is the header's `num_class`; `fail` builds the load error.
 * A missing line is how LightGBM saves models trained with a custom objective (`objective=none` or a
 * Python callable): LightGBM then predicts raw scores, and so do we.
 */
export function parseObjective(line: string | undefined, numClass: number, fail: (problem: string) => Error): Objective {
  if (line === undefined) return { name: 'none', transform: 'identity', sigmoid: 1 }
  const [name = '', ...tokens] = line.split(/\s+/).filter((t) => t !== '')
  const params = new Map<string, string>()
  const words = new Set<string>()
  for (const token of tokens) {
    const colon = token.indexOf(':')
    if (colon < 0) words.add(token)
    else params.set(token.slice(0, colon), token.slice(colon + 1))
  }

  if (name === 'binary') {
    const sigmoid = Number(params.get('sigmoid'))
    // LightGBM itself refuses a binary objective without a positive sigmoid.
    if (!params.has('sigmoid') || !Number.isFinite(sigmoid) || sigmoid <= 0) {
      throw fail(`objective "${line}" needs a positive "sigmoid:" parameter`)
    }
    if (numClass !== 1) throw fail(`objective "binary" needs num_class=1, got ${numClass}`)
    return { name, transform: 'sigmoid', sigmoid }
  }

  if (name === 'multiclass') {
    const k = Number(params.get('num_class'))
    if (!Number.isInteger(k) || k !== numClass) {
      throw fail(`objective "${line}" must carry num_class:${numClass} to match the header`)
    }
    // LightGBM refuses to train multiclass with fewer than 2 classes.
    if (numClass < 2) throw fail(`objective "multiclass" needs num_class >= 2, got ${numClass}`)
    return { name, transform: 'softmax', sigmoid: 1 }
  }

  if (IDENTITY_OBJECTIVES.has(name)) {
    if (words.has('sqrt')) throw fail(`objective "${line}": models trained with reg_sqrt=true are not supported`)
    if (numClass !== 1) throw fail(`objective "${name}" needs num_class=1, got ${numClass}`)
    return { name, transform: 'identity', sigmoid: 1 }
  }

  throw fail(`unsupported objective "${name || line}" (supported: ${SUPPORTED_OBJECTIVES.join(', ')}, or none)`)
}

/** LightGBM's binary `ConvertOutput`: 1 / (1 + exp(-sigmoid * raw)), in doubles. */
export function sigmoidOutput(raw: number, sigmoid: number): number {
  return 1 / (1 + Math.exp(-sigmoid * raw))
}

/** LightGBM's `Common::Softmax`, in place: subtract the max, exponentiate, sum in order, divide. */
export function softmaxInPlace(values: number[]): void {
  let max = values[0] ?? 0
  for (let i = 1; i < values.length; i++) max = Math.max(values[i] ?? 0, max)
  let sum = 0
  for (let i = 0; i < values.length; i++) {
    const e = Math.exp((values[i] ?? 0) - max)
    values[i] = e
    sum += e
  }
  for (let i = 0; i < values.length; i++) values[i] = (values[i] ?? 0) / sum
}
