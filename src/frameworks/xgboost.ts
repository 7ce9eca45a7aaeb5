import { access } from 'node:fs/promises'
import { ServekitError } from '../errors.js'
import { defineModel, type Artifact } from '../model/interface.js'
import { tabularLayout, toTabularRow, type TabularLayout } from './shared/tabular-row.js'
import { configuredModelFile } from './shared/model-file.js'
import { expectNumberOrNumbers, readTestDataFile } from './shared/test-data-file.js'
import { loadXGBoostModel, type XGBoostModel } from './xgboost/evaluator.js'

/**
 * Built-in model class for XGBoost models saved with `save_model('model.json')` or
 * `save_model('model.ubj')`, evaluated in TypeScript with XGBoost's float32 arithmetic: no native
 * XGBoost at serving time.
 *
 * Features: an array of numbers in model order, or an object keyed by feature name (names from the
 * model, `options.feature_names` or `feature_names` in model.json); `null` or an absent key is a
 * missing value. Output: a number (probability, regression value, class index for multi:softmax,
 * ranking score) or one number per class for multi:softprob. `parameters.output_margin: true`
 * returns the untransformed margin.
 */

export interface LoadedXGBoost {
  readonly booster: XGBoostModel
  readonly layout: TabularLayout
}

export type XGBoostOutput = number | number[]

export default defineModel<unknown, LoadedXGBoost, XGBoostOutput>({
  async load(artifact, { options }) {
    const file = await modelFile(artifact, options)
    const booster = loadXGBoostModel(await artifact.readBytes(file), artifact.path(file))
    const layout = tabularLayout(booster.numFeatures, featureNames(artifact, options, booster), {
      reuseRow: true, // predict copies the row into float32 before it returns
      namesHint: ' (or set options.feature_names)',
    })
    return { booster, layout }
  },

  predict(model, features, { parameters }) {
    return model.booster.predict(toTabularRow(features, model.layout), outputMargin(parameters))
  },

  predictBatch(model, features, { parameters }) {
    const margin = outputMargin(parameters)
    return features.map((f, i) => model.booster.predict(toTabularRow(f, model.layout, `features[${i}]`), margin))
  },

  testData: (artifact) => readTestDataFile<XGBoostOutput>(artifact, { checkExpected: expectNumberOrNumbers }),

  // XGBoost computes in float32; the evaluator repeats its steps, and the margin of error left is
  // an ulp or two of expf/logf, far below float32 noise on the inputs.
  tolerance: { absolute: 1e-5, relative: 1e-5 },
})

/**
 * `options.file` wins over `file` in model.json. Without either: `model.json` when it is an XGBoost
 * model (the artifact's manifest has the same name, so a real manifest there is skipped), then
 * `model.ubj`.
 */
async function modelFile(artifact: Artifact, options: Readonly<Record<string, unknown>>): Promise<string> {
  const named = configuredModelFile(artifact, options)
  if (named !== undefined) return named
  if (Object.hasOwn(artifact.manifest, 'learner')) return 'model.json'
  if (await exists(artifact, 'model.ubj')) return 'model.ubj'
  throw new ServekitError(
    'model_load_failed',
    `${artifact.name}@${artifact.version}: no XGBoost model in ${artifact.dir}: looked for model.json (holding an XGBoost model, not a servekit manifest) and model.ubj; set options.file or "file" in model.json`,
  )
}

/** An explicit order (options, then model.json) must agree with names saved in the model. */
function featureNames(artifact: Artifact, options: Readonly<Record<string, unknown>>, booster: XGBoostModel): readonly string[] | undefined {
  for (const [source, value] of [
    ['options.feature_names', options['feature_names']],
    ['model.json "feature_names"', artifact.manifest['feature_names']],
  ] as const) {
    if (value === undefined) continue
    const fail = (problem: string): never => {
      throw new ServekitError('model_load_failed', `${artifact.name}@${artifact.version}: ${source} ${problem}`)
    }
    if (!Array.isArray(value) || !value.every((n): n is string => typeof n === 'string')) fail('must be an array of strings')
    const names = value as string[]
    if (names.length !== booster.numFeatures) fail(`has ${names.length} names, but ${booster.file} has ${booster.numFeatures} features`)
    if (new Set(names).size !== names.length) fail('has duplicate names')
    const saved = booster.featureNames
    if (saved && saved.some((n, i) => n !== names[i])) {
      fail(`does not match the feature names saved in ${booster.file} (${saved.slice(0, 5).join(', ')}${saved.length > 5 ? ', …' : ''}); remove it or fix the order`)
    }
    return names
  }
  return booster.featureNames
}

function outputMargin(parameters: Readonly<Record<string, unknown>>): boolean {
  const value = parameters['output_margin']
  if (value === undefined || typeof value === 'boolean') return value === true
  throw new ServekitError('invalid_request', `parameters.output_margin must be a boolean, got ${typeof value}`, { details: { field: 'parameters.output_margin' } })
}

async function exists(artifact: Artifact, file: string): Promise<boolean> {
  try {
    await access(artifact.path(file))
    return true
  } catch {
    return false
  }
}
