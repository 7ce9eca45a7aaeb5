import { ServekitError } from '../errors.js'
import { defineModel, type Artifact } from '../model/interface.js'
import { loadLightGBMModel, type LightGBMModel } from './lightgbm/model.js'
import { tabularLayout, toTabularRow, type TabularLayout } from './shared/tabular-row.js'
import { configuredModelFile } from './shared/model-file.js'
import { expectNumberOrNumbers, readTestDataFile } from './shared/test-data-file.js'

/**
 * Built-in model class for LightGBM text models (`booster.save_model('model.txt')` or the CLI's
 * `output_model`), evaluated in TypeScript: no native LightGBM is needed at serving time.
 *
 * Features: an array in the model's `feature_names` order, or an object keyed by feature name;
 * `null` or an absent key is a missing value. Output: a number (binary probability, regression
 * value) or one probability per class for multiclass. `parameters.raw_score: true` returns raw scores.
 */

const DEFAULT_FILE = 'model.txt'

export interface LoadedLightGBM {
  readonly booster: LightGBMModel
  readonly layout: TabularLayout
}

export type LightGBMOutput = number | number[]

export default defineModel<unknown, LoadedLightGBM, LightGBMOutput>({
  async load(artifact, { options }) {
    const file = modelFile(artifact, options)
    const text = await artifact.readText(file)
    const booster = loadLightGBMModel(text, artifact.path(file))
    return { booster, layout: tabularLayout(booster.numFeatures, booster.featureNames) }
  },

  predict(model, features, { parameters }) {
    return model.booster.predict(toTabularRow(features, model.layout), rawScore(parameters))
  },

  predictBatch(model, features, { parameters }) {
    const raw = rawScore(parameters)
    return features.map((f, i) => model.booster.predict(toTabularRow(f, model.layout, `features[${i}]`), raw))
  },

  testData: (artifact) => readTestDataFile<LightGBMOutput>(artifact, { checkExpected: expectNumberOrNumbers }),

  // The evaluator reproduces LightGBM's doubles exactly; only Math.exp may differ by an ulp.
  tolerance: { absolute: 1e-12, relative: 1e-12 },
})

/** `options.file` or `file` in model.json, else `model.txt`. */
function modelFile(artifact: Artifact, options: Readonly<Record<string, unknown>>): string {
  return configuredModelFile(artifact, options) ?? DEFAULT_FILE
}

function rawScore(parameters: Readonly<Record<string, unknown>>): boolean {
  const raw = parameters['raw_score']
  if (raw === undefined || typeof raw === 'boolean') return raw === true
  throw new ServekitError('invalid_request', `parameters.raw_score must be a boolean, got ${typeof raw}`, { details: { field: 'parameters.raw_score' } })
}
