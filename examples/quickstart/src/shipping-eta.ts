import { defineModel } from 'servekit'
import { z } from 'zod'

/** A lookup-and-rules model: base days per zone pair from the artifact, adjusted by rules. */
interface Table {
  base_days: Record<string, number>
  express_factor: number
  weekend_penalty_days: number
  default_days: number
}

export default defineModel({
  inputSchema: z.object({
    origin_zone: z.string().regex(/^[A-Z]$/),
    destination_zone: z.string().regex(/^[A-Z]$/),
    express: z.boolean().default(false),
    ordered_on_weekend: z.boolean().default(false),
  }),

  async load(artifact) {
    const table = await artifact.readJson<Table>('table.json')
    // Prepared once: a Map lookup per request instead of string building over an object.
    return { table, base: new Map(Object.entries(table.base_days)) }
  },

  predict({ table, base }, f) {
    let days = base.get(`${f.origin_zone}${f.destination_zone}`) ?? table.default_days
    if (f.express) days = Math.max(1, Math.ceil(days * table.express_factor))
    if (f.ordered_on_weekend) days += table.weekend_penalty_days
    return { days }
  },

  testData: [
    { name: 'same zone', features: { origin_zone: 'A', destination_zone: 'A' }, expected: { days: 1 } },
    { name: 'cross country express', features: { origin_zone: 'A', destination_zone: 'C', express: true }, expected: { days: 3 } },
    { name: 'unknown pair on a weekend', features: { origin_zone: 'Z', destination_zone: 'Q', ordered_on_weekend: true }, expected: { days: 8 } },
  ],
})
