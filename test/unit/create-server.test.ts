import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createServer } from '../../src/create-server.js'
import { createLogger } from '../../src/observe/logger.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/service/', import.meta.url))

describe('createServer (embedded, in this process)', () => {
  it('loads the models of a config object and serves /infer on a real socket', async () => {
    const server = await createServer({
      // No prediction log: its default directory would be inside the fixture.
      config: { models: { sum: { module: './src/sum.ts' }, echo: { module: './src/echo.ts' } }, metrics: { enabled: false }, predictionLog: { enabled: false } },
      baseDir: FIXTURES,
      logger: createLogger({ level: 'silent', pretty: false }),
    })
    try {
      const url = await server.listen({ port: 0, host: '127.0.0.1' })
      const res = await fetch(`${url}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model_id: 'sum', features: { a: 2 } }) })
      expect(await res.json()).toMatchObject({ output: 1002, model_id: 'sum', model_version: '2' })
      expect((await fetch(`${url}/ready`)).status).toBe(200)
      // Metrics off: no route.
      expect((await fetch(`${url}/metrics`)).status).toBe(404)
      // The data plane is callable without HTTP too.
      const direct = await server.predict({ modelId: 'echo', features: [1], requestId: 'r' }, new AbortController().signal)
      expect(direct.output).toEqual({ features: [1], parameters: {} })
    } finally {
      await server.close()
    }
  })
})
