import { defineModel } from 'servekit'
import { z } from 'zod'

/** Adds its numeric features (plus the artifact's offset): no model cost, only serving overhead. */
export default defineModel({
  inputSchema: z.record(z.string(), z.number()),
  async load(artifact) {
    return artifact.readJson<{ offset: number }>('offset.json')
  },
  predict(model, features) {
    let total = model.offset
    for (const k in features) total += features[k] as number
    return total
  },
  testData: [{ features: { a: 1, b: 2.5, c: -0.5 }, expected: 3 }],
})
