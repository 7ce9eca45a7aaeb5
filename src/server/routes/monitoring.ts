import type { FastifyInstance } from 'fastify'
import { ServekitError } from '../../errors.js'
import type { ModelRegistry } from '../../model/registry.js'
import type { Monitoring } from '../../observe/monitoring/service-monitoring.js'
import { methodNotAllowed } from '../error-handler.js'

const URL = '/models/:id/monitoring'

/**
 * `GET /models/:id/monitoring`: per loaded version, streaming statistics of every numeric feature and
 * of the output, and their drift (PSI) from the version's training statistics, for the whole service.
 */
export function monitoringRoutes(app: FastifyInstance, deps: { registry: ModelRegistry; monitoring?: Monitoring | undefined }): void {
  const { registry, monitoring } = deps
  app.get<{ Params: { id: string } }>(URL, async (request) => {
    const { id } = request.params
    const entry = registry.get(id)
    if (entry === undefined) throw new ServekitError('model_not_found', `model "${id.slice(0, 64)}" not found (known: ${registry.ids.join(', ')})`)
    if (monitoring === undefined) throw new ServekitError('not_found', 'monitoring is off (monitoring.enabled: false in the service config)')
    const loaded = [...entry.loaded.values()].map((v) => ({ version: v.version, hasReference: v.artifact.manifest.training_stats !== undefined }))
    return monitoring.report(id, loaded)
  })
  methodNotAllowed(app, URL, ['GET'])
}
