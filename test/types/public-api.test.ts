import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { defineConfig, defineModel, errorCodes, ServekitError, type Artifact, type ErrorCode, type ModelClass } from 'servekit'

// Type tests of the public API as users import it (the package's own name, its built declarations).
// tsc checks them in `npm test`; at run time they only assert that the calls are made.
describe('public API types', () => {
  it('infers features from the input schema and the loaded model from load', () => {
    const model = defineModel({
      inputSchema: z.object({ x: z.number(), tag: z.string().default('a') }),
      async load(artifact) {
        expectTypeOf(artifact).toEqualTypeOf<Artifact>()
        return { w: 2 }
      },
      predict(m, f) {
        expectTypeOf(m).toEqualTypeOf<{ w: number }>()
        expectTypeOf(f).toEqualTypeOf<{ x: number; tag: string }>()
        return m.w * f.x
      },
      // Test cases are written as clients send features: defaults may be left out.
      testData: [{ features: { x: 1 }, expected: 2 }],
    })
    expectTypeOf(model.load).returns.resolves.toEqualTypeOf<{ w: number }>()
    expectTypeOf<typeof model>().toMatchTypeOf<ModelClass<{ x: number; tag: string }, { w: number }, number, { x: number; tag?: string | undefined }>>()
  })

  it('rejects test cases that do not match the schema or the output', () => {
    defineModel({
      inputSchema: z.object({ x: z.number() }),
      load: () => 1,
      predict: (m, f) => m * f.x,
      // @ts-expect-error: expected must be a number, like predict's output
      testData: [{ features: { x: 1 }, expected: 'two' }],
    })
    defineModel({
      inputSchema: z.object({ x: z.number() }),
      load: () => 1,
      predict: (m, f) => m * f.x,
      // @ts-expect-error: x must be a number
      testData: [{ features: { x: 'one' }, expected: 1 }],
    })
  })

  it('types the config and the error catalogue', () => {
    const config = defineConfig({ models: { m: { module: './m.ts', versions: { latest: 2 } } }, server: { port: 0 } })
    expectTypeOf(config.models).toHaveProperty('m')
    // @ts-expect-error: an unknown framework is a type error, not a runtime surprise
    defineConfig({ models: { m: { framework: 'sklearn' } } })
    expectTypeOf(new ServekitError('model_not_found').code).toEqualTypeOf<ErrorCode>()
    expectTypeOf<'overloaded'>().toMatchTypeOf<keyof typeof errorCodes>()
    // @ts-expect-error: codes come from the catalogue
    new ServekitError('made_up_code')
  })
})
