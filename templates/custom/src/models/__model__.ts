import { defineModel } from 'servekit'
import { z } from 'zod'

/**
 * {{model_id}}: a logistic regression. The artifact (models/{{model_id}}/<version>/coefficients.json)
 * holds the coefficients a training job wrote; this class applies them.
 */
interface Coefficients {
  intercept: number
  weights: { tenure_months: number; monthly_charges: number; support_calls: number }
  threshold: number
}

export default defineModel({
  // Checked before predict: a request that fails it gets a 400 naming the field.
  inputSchema: z.object({
    tenure_months: z.number().min(0),
    monthly_charges: z.number().min(0),
    support_calls: z.number().int().min(0),
  }),

  // Once per version: read the artifact and prepare everything predict needs.
  async load(artifact) {
    const c = await artifact.readJson<Coefficients>('coefficients.json')
    if (!(c.threshold > 0 && c.threshold < 1)) throw new Error(`coefficients.json: threshold must be in (0, 1), got ${c.threshold}`)
    return c
  },

  // One prediction; no I/O here.
  predict(c, f) {
    const z = c.intercept + c.weights.tenure_months * f.tenure_months + c.weights.monthly_charges * f.monthly_charges + c.weights.support_calls * f.support_calls
    const probability = 1 / (1 + Math.exp(-z))
    return { churn_probability: probability, will_churn: probability >= c.threshold }
  },

  // Self-test: run after every load, through the request path; a version that fails is not served.
  testData: [
    { name: 'new customer with complaints', features: { tenure_months: 2, monthly_charges: 95, support_calls: 4 }, expected: { churn_probability: 0.9324533, will_churn: true } },
    { name: 'loyal customer', features: { tenure_months: 48, monthly_charges: 40, support_calls: 0 }, expected: { churn_probability: 0.0744679, will_churn: false } },
    { name: 'two-year customer, one call', features: { tenure_months: 24, monthly_charges: 70, support_calls: 1 }, expected: { churn_probability: 0.4182406, will_churn: false } },
  ],
  tolerance: { absolute: 1e-6 },
})
