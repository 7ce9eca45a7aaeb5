import { z } from 'zod'
import { trainingStatsSchema } from '../observe/monitoring/training-stats.js'

/**
 * `model.json`: what a version is and how to load it. Every field is optional so an artifact
 * can be a bare directory of files; unknown fields are kept for the user's own tooling.
 */
export const manifestSchema = z
  .object({
    /** Built-in model class that loads this artifact (`xgboost`, `lightgbm`, `onnx`). */
    framework: z.string().optional(),
    /** The model file inside the artifact, for built-in classes (e.g. `model.onnx`, `model.ubj`). */
    file: z.string().optional(),
    /** Feature names in model input order, for built-in classes that map a record onto a row. */
    feature_names: z.array(z.string()).optional(),
    /** Free-form description shown on `GET /models`. */
    description: z.string().optional(),
    /** ISO 8601 time the artifact was created. */
    created_at: z.string().optional(),
    /** Anything the team wants to keep beside the model: metrics, git sha, data window. */
    metadata: z.record(z.string(), z.unknown()).optional(),
    /** Reference distribution of the training data for drift monitoring (`servekit profile`). */
    training_stats: trainingStatsSchema.optional(),
  })
  .loose()

export type Manifest = z.infer<typeof manifestSchema>
