import { defineModel } from 'servekit'
import { z } from 'zod'

/** A logistic regression: the artifact holds its coefficients, this code applies them. */
interface Coefficients {
  intercept: number
  weights: { tenure_months: number; monthly_charges: number; support_calls: number }
  contract: Record<'monthly' | 'annual' | 'two_year', number>
  threshold: number
}

export default defineModel({
  inputSchema: z.object({
    tenure_months: z.number().min(0),
    monthly_charges: z.number().min(0),
    support_calls: z.number().int().min(0),
    contract: z.enum(['monthly', 'annual', 'two_year']),
  }),

  async load(artifact) {
    return artifact.readJson<Coefficients>('coefficients.json')
  },

  predict(c, f) {
    const z = c.intercept + c.weights.tenure_months * f.tenure_months + c.weights.monthly_charges * f.monthly_charges + c.weights.support_calls * f.support_calls + c.contract[f.contract]
    const probability = 1 / (1 + Math.exp(-z))
    return { churn_probability: probability, will_churn: probability >= c.threshold }
  },

  testData: [
    { name: 'new monthly customer with complaints', features: { tenure_months: 2, monthly_charges: 95, support_calls: 4, contract: 'monthly' }, expected: { churn_probability: 0.9713908, will_churn: true } },
    { name: 'loyal two-year customer', features: { tenure_months: 48, monthly_charges: 40, support_calls: 0, contract: 'two_year' }, expected: { churn_probability: 0.0118911, will_churn: false } },
  ],
  tolerance: { absolute: 1e-6 },
})
