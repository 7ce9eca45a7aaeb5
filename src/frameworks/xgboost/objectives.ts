/**
 * XGBoost objectives as prediction sees them: the link that turns the stored `base_score` into a
 * margin (XGBoost's `ProbToMargin`) and the transform from margin to output (`PredTransform`).
 * The float32 steps mirror the C++ so results match XGBoost to the last bit or two.
 */

const f = Math.fround

/** How the stored `base_score` becomes the starting margin. */
export type Link = 'identity' | 'logit' | 'log'
/** How a margin becomes the prediction. */
export type Transform = 'identity' | 'sigmoid' | 'exp' | 'hinge' | 'softprob' | 'softmax'

export interface Objective {
  readonly name: string
  readonly link: Link
  readonly transform: Transform
}

/** [major, minor, patch] of the XGBoost that saved the file. */
export type Version = readonly [number, number, number]

const OBJECTIVES: Record<string, { link: Link; transform: Transform }> = {
  'reg:squarederror': { link: 'identity', transform: 'identity' },
  'reg:linear': { link: 'identity', transform: 'identity' },
  'reg:squaredlogerror': { link: 'identity', transform: 'identity' },
  'reg:pseudohubererror': { link: 'identity', transform: 'identity' },
  'reg:absoluteerror': { link: 'identity', transform: 'identity' },
  'reg:quantileerror': { link: 'identity', transform: 'identity' },
  'reg:logistic': { link: 'logit', transform: 'sigmoid' },
  'binary:logistic': { link: 'logit', transform: 'sigmoid' },
  'binary:logitraw': { link: 'identity', transform: 'identity' },
  'binary:hinge': { link: 'identity', transform: 'hinge' },
  'count:poisson': { link: 'log', transform: 'exp' },
  'reg:gamma': { link: 'log', transform: 'exp' },
  'reg:tweedie': { link: 'log', transform: 'exp' },
  'multi:softprob': { link: 'identity', transform: 'softprob' },
  'multi:softmax': { link: 'identity', transform: 'softmax' },
  'rank:pairwise': { link: 'identity', transform: 'identity' },
  'rank:ndcg': { link: 'identity', transform: 'identity' },
  'rank:map': { link: 'identity', transform: 'identity' },
}

/** Objective names this evaluator can predict for. */
export const supportedObjectives: readonly string[] = Object.keys(OBJECTIVES)

/** The objective as the saving version applied it, or undefined when unsupported. */
export function lookupObjective(name: string, version: Version): Objective | undefined {
  const entry = OBJECTIVES[name]
  if (!entry) return undefined
  // Before 1.4 (dmlc/xgboost#6517) logitraw inherited logistic's logit of base_score.
  if (name === 'binary:logitraw' && compareVersion(version, [1, 4, 0]) < 0) {
    return { name, link: 'logit', transform: 'identity' }
  }
  return { name, ...entry }
}

/**
 * The starting margin for a stored `base_score`, computed in float32 like XGBoost
 * (`-logf(1.0f / p - 1.0f)` for logit, `logf(p)` for log). Throws (message only) where XGBoost
 * itself refuses the value.
 */
export function baseMargin(link: Link, baseScore: number): number {
  const p = f(baseScore)
  switch (link) {
    case 'identity':
      return p
    case 'logit':
      if (!(p > 0 && p < 1)) throw new Error(`base_score must be in (0, 1) for a logistic objective, got ${baseScore}`)
      return f(-f(Math.log(f(f(1 / p) - 1))))
    case 'log':
      if (!(p > 0)) throw new Error(`base_score must be > 0 for a log-link objective, got ${baseScore}`)
      return f(Math.log(p))
  }
}

const SIGMOID_CLAMP = f(88.7)

/** XGBoost's `common::Sigmoid` in float32, clamped so expf cannot overflow. */
export function sigmoid(margin: number): number {
  const e = f(Math.exp(Math.min(-margin, SIGMOID_CLAMP)))
  return f(1 / f(e + 1))
}

/** expf, as used by the log-link objectives. */
export function expf(margin: number): number {
  return f(Math.exp(margin))
}

/**
 * XGBoost's `common::Softmax` over `values[0..n)`, in place: float32 max and exponentials, the sum
 * accumulated in double and divided after rounding to float32, as the C++ does.
 */
export function softmaxInPlace(values: Float32Array, n: number): void {
  let max = values[0] as number
  for (let i = 1; i < n; i++) max = Math.max(values[i] as number, max)
  let sum = 0
  for (let i = 0; i < n; i++) {
    const e = f(Math.exp(f((values[i] as number) - max)))
    values[i] = e
    sum += e
  }
  const total = f(sum)
  for (let i = 0; i < n; i++) values[i] = (values[i] as number) / total
}

/** Index of the first largest value, as XGBoost's `FindMaxIndex`. */
export function argmax(values: Float32Array, n: number): number {
  let best = 0
  for (let i = 1; i < n; i++) if ((values[i] as number) > (values[best] as number)) best = i
  return best
}

export function compareVersion(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return 0
}
