import type { FastifyInstance } from 'fastify'
import type { ModelRegistry } from '../../model/registry.js'
import { describeModel } from '../admin/describe.js'
import { isDevelopment, methodNotAllowed, redactPaths } from '../error-handler.js'

/** `GET /models`: every configured model, its versions (serving, loaded, failed), load time and self-test. */
export function modelsRoutes(app: FastifyInstance, deps: { registry: ModelRegistry }): void {
  const { registry } = deps
  app.get('/models', async () => ({ models: registry.list().map((entry) => (isDevelopment() ? describeModel(entry) : withoutPaths(describeModel(entry)))) }))
  methodNotAllowed(app, '/models', ['GET'])
}

/** Load errors name artifact files and store directories: clients of the data plane see `…/<file>` (the admin API and logs keep them). */
function withoutPaths(model: ReturnType<typeof describeModel>): ReturnType<typeof describeModel> {
  const clean = (s: string | null): string | null => (s === null ? null : redactPaths(s))
  return {
    ...model,
    error: clean(model.error),
    versions: model.versions.map((v) =>
      'self_test' in v
        ? { ...v, self_test: { ...v.self_test, failures: v.self_test.failures.map((f) => ({ ...f, reason: clean(f.reason) })) } }
        : { ...v, error: redactPaths(v.error) },
    ),
  }
}
