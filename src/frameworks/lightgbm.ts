import { access } from 'node:fs/promises'
import { ServekitError } from '../errors.js'
import { defineModel, type Artifact, type TestCase, type Tolerance } from '../model/interface.js'
import { featureLayout, toFeatureRow, type FeatureLayout } from './lightgbm/features.js'
import { loadLightGBMModel, type LightGBMModel } from './lightgbm/model.js'

/**
 * Built-in model class for LightGBM text models (`booster.save_model('model.txt')` or the CLI's
 * `output_model`), evaluated in TypeScript: no native LightGBM is needed at serving time.
 *
 * Features: an array in the model's `feature_names` order, or an object keyed by feature name;
 * `null` or an absent key is a missing value. Output: a number (binary probability, regression
 * value) or one probability per class for multiclass. `parameters.raw_score: true` returns raw scores.
 */

const DEFAULT_FILE = 'model.txt'
const TEST_DATA_FILE = 'testdata.json'

export interface LoadedLightGBM {
  readonly booster: LightGBMModel
  readonly layout: FeatureLayout
}

export type LightGBMOutput = number | number[]

export default defineModel<unknown, LoadedLightGBM, LightGBMOutput>({
  async load(artifact, { options }) {
    const file = modelFile(artifact, options)
    const text = await artifact.readText(file)
    const booster = loadLightGBMModel(text, artifact.path(file))
    return { booster, layout: featureLayout(booster.featureNames) }
  },

  predict(model, features, { parameters }) {
    return model.booster.predict(toFeatureRow(features, model.layout), rawScore(parameters))
  },

  predictBatch(model, features, { parameters }) {
    const raw = rawScore(parameters)
    return features.map((f, i) => model.booster.predict(toFeatureRow(f, model.layout, `features[${i}]`), raw))
  },

  async testData(artifact) {
    try {
      await access(artifact.path(TEST_DATA_FILE))
    } catch {
      return []
    }
    return checkTestData(await artifact.readJson(TEST_DATA_FILE), artifact.path(TEST_DATA_FILE))
  },

  // The evaluator reproduces LightGBM's doubles exactly; only Math.exp may differ by an ulp.
  tolerance: { absolute: 1e-12, relative: 1e-12 },
})

/** `options.file` (from the config) wins over `file` in `model.json`; both must be strings. */
function modelFile(artifact: Artifact, options: Readonly<Record<string, unknown>>): string {
  for (const [source, value] of [
    ['options.file', options['file']],
    ['model.json "file"', artifact.manifest['file']],
  ] as const) {
    if (value === undefined) continue
    if (typeof value !== 'string' || value === '') {
      throw new ServekitError('model_load_failed', `${artifact.name}@${artifact.version}: ${source} must be a non-empty string`)
    }
    return value
  }
  return DEFAULT_FILE
}

function rawScore(parameters: Readonly<Record<string, unknown>>): boolean {
  const raw = parameters['raw_score']
  if (raw === undefined || typeof raw === 'boolean') return raw === true
  throw new ServekitError('invalid_request', `parameters.raw_score must be a boolean, got ${typeof raw}`, { details: { parameter: 'raw_score' } })
}

function checkTestData(data: unknown, file: string): TestCase<unknown, LightGBMOutput>[] {
  const bad = (problem: string): ServekitError => new ServekitError('model_load_failed', `${file}: ${problem}`)
  if (!Array.isArray(data)) throw bad('must be an array of {features, expected, tolerance?}')
  return data.map((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || !('features' in entry) || !('expected' in entry)) {
      throw bad(`entry ${i} needs "features" and "expected"`)
    }
    const { features, expected, tolerance, name } = entry as Record<string, unknown>
    const isNumbers = Array.isArray(expected) && expected.every((x) => typeof x === 'number')
    if (typeof expected !== 'number' && !isNumbers) throw bad(`entry ${i}: "expected" must be a number or an array of numbers`)
    const test: TestCase<unknown, LightGBMOutput> = { features, expected: expected as LightGBMOutput }
    if (tolerance !== undefined) test.tolerance = checkTolerance(tolerance, () => bad(`entry ${i}: "tolerance" must be {absolute?, relative?} with numbers`))
    if (name !== undefined) {
      if (typeof name !== 'string') throw bad(`entry ${i}: "name" must be a string`)
      test.name = name
    }
    return test
  })
}

function checkTolerance(value: unknown, bad: () => ServekitError): Tolerance {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad()
  const { absolute, relative } = value as Record<string, unknown>
  for (const v of [absolute, relative]) if (v !== undefined && (typeof v !== 'number' || !(v >= 0))) throw bad()
  return value as Tolerance
}
