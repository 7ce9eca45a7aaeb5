import { z } from 'zod'

/** Quantiles reported for a distribution, by name (`p50` is the median). */
export const QUANTILES = { p01: 0.01, p05: 0.05, p25: 0.25, p50: 0.5, p75: 0.75, p95: 0.95, p99: 0.99 } as const
export type QuantileName = keyof typeof QUANTILES

/**
 * The reference distribution of one numeric feature (or of the output), as `servekit profile`
 * writes it. `bins` are the interior edges e_1 < … < e_{k-1} of k bins (see `binIndex`) and
 * `fractions` the share of the reference's numeric values in each.
 */
export const featureReferenceSchema = z
  .object({
    /** Rows profiled. */
    count: z.number().int().nonnegative(),
    /** Share of rows where the value was absent, null or not a number. */
    missing_rate: z.number().min(0).max(1),
    mean: z.number(),
    std: z.number().nonnegative(),
    min: z.number().optional(),
    max: z.number().optional(),
    quantiles: z.record(z.string(), z.number()).optional(),
    bins: z.array(z.number()),
    fractions: z.array(z.number().min(0).max(1)),
  })
  .loose()
  .refine((r) => r.fractions.length === r.bins.length + 1, { message: 'fractions must have one entry more than bins (k bins have k-1 interior edges)' })
  .refine((r) => r.bins.every((e, i) => i === 0 || e > (r.bins[i - 1] as number)), { message: 'bins must be strictly increasing' })

export const outputReferenceSchema = featureReferenceSchema.and(
  z.object({
    /** For object outputs: the numeric field monitored (e.g. `churn_probability`). */
    field: z.string().optional(),
  }),
)

/**
 * `training_stats` in a version's `model.json`: the reference distribution drift is measured
 * against. Written by `servekit profile`.
 */
export const trainingStatsSchema = z
  .object({
    /** Rows the profile was computed from. */
    rows: z.number().int().nonnegative().optional(),
    /** ISO 8601 time of the profile. */
    created_at: z.string().optional(),
    features: z.record(z.string(), featureReferenceSchema),
    output: outputReferenceSchema.optional(),
  })
  .loose()

export type FeatureReference = z.infer<typeof featureReferenceSchema>
export type OutputReference = z.infer<typeof outputReferenceSchema>
export type TrainingStats = z.infer<typeof trainingStatsSchema>
