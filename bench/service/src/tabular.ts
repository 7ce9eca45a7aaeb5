import { defineModel, type TestCase } from 'servekit'
import { z } from 'zod'

/** The 30 features of scikit-learn's breast_cancer data set, in model order. */
export const FEATURES = [
  'mean_radius', 'mean_texture', 'mean_perimeter', 'mean_area', 'mean_smoothness', 'mean_compactness',
  'mean_concavity', 'mean_concave_points', 'mean_symmetry', 'mean_fractal_dimension',
  'radius_error', 'texture_error', 'perimeter_error', 'area_error', 'smoothness_error', 'compactness_error',
  'concavity_error', 'concave_points_error', 'symmetry_error', 'fractal_dimension_error',
  'worst_radius', 'worst_texture', 'worst_perimeter', 'worst_area', 'worst_smoothness', 'worst_compactness',
  'worst_concavity', 'worst_concave_points', 'worst_symmetry', 'worst_fractal_dimension',
] as const

type Feature = (typeof FEATURES)[number]

/** What train_tabular.py writes: a StandardScaler and a LogisticRegression, unrolled. */
interface Coefficients {
  feature_names: string[]
  mean: number[]
  scale: number[]
  weights: number[]
  intercept: number
  threshold: number
}

type Output = { benign_probability: number; label: 'benign' | 'malignant' }

interface Loaded {
  /** weight / scale per feature, and the intercept with the means folded in: one multiply-add per feature. */
  w: Float64Array
  bias: number
  threshold: number
}

const shape = Object.fromEntries(FEATURES.map((f) => [f, z.number()])) as Record<Feature, z.ZodNumber>

/** Logistic regression over 30 standardised features: the kind of tabular model most services run. */
export default defineModel({
  inputSchema: z.object(shape),

  async load(artifact): Promise<Loaded> {
    const c = await artifact.readJson<Coefficients>('coefficients.json')
    if (c.feature_names.join() !== FEATURES.join()) throw new Error('coefficients.json feature_names do not match the model class')
    const w = new Float64Array(FEATURES.length)
    let bias = c.intercept
    for (let i = 0; i < FEATURES.length; i++) {
      w[i] = c.weights[i]! / c.scale[i]!
      bias -= w[i]! * c.mean[i]!
    }
    return { w, bias, threshold: c.threshold }
  },

  predict(m, f): Output {
    let z = m.bias
    for (let i = 0; i < FEATURES.length; i++) z += m.w[i]! * f[FEATURES[i]!]
    const p = 1 / (1 + Math.exp(-z))
    return { benign_probability: p, label: p >= m.threshold ? 'benign' : 'malignant' }
  },

  // Cases predicted by scikit-learn itself (train_tabular.py): the unrolled model must agree.
  testData: (artifact) => artifact.readJson<TestCase<Record<Feature, number>, Output>[]>('testdata.json'),
  tolerance: { absolute: 1e-9 },
})
