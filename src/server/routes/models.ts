import type { FastifyInstance } from 'fastify'
import type { LoadedVersion, ModelEntry, ModelRegistry } from '../../model/registry.js'
import { methodNotAllowed } from '../error-handler.js'

/** `GET /models`: every configured model, its serving version, status, load time and self-test. */
export function modelsRoutes(app: FastifyInstance, deps: { registry: ModelRegistry }): void {
  const { registry } = deps
  app.get('/models', async () => ({ models: registry.list().map(describeModel) }))
  methodNotAllowed(app, '/models', ['GET'])
}

export function describeModel(entry: ModelEntry) {
  return {
    model_id: entry.id,
    status: entry.status,
    default_version: entry.serving?.version ?? null,
    error: entry.error ?? null,
    versions: entry.serving ? [describeVersion(entry.serving)] : [],
  }
}

function describeVersion(v: LoadedVersion) {
  const t = v.selfTest
  return {
    version: v.version,
    status: 'serving',
    loaded_at: v.loadedAt.toISOString(),
    load_ms: Math.round(v.loadMs * 100) / 100,
    framework: v.artifact.manifest.framework ?? null,
    description: v.artifact.manifest.description ?? null,
    self_test: {
      status: t.status,
      cases: t.cases,
      failed: t.failed,
      max_error: Number.isFinite(t.maxError) ? t.maxError : null,
      duration_ms: Math.round(t.durationMs * 100) / 100,
      failures: t.failures.map((f) => ({ name: f.name, reason: f.reason ?? null, expected: f.expected, got: f.got ?? null })),
    },
  }
}
