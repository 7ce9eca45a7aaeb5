import type { FastifyInstance } from 'fastify'
import { experimentWeightsSchema, isSafeName } from '../../config/schema.js'
import { ServekitError } from '../../errors.js'
import type { ModelRegistry } from '../../model/registry.js'
import { compareVersions, type ExperimentSpec, type ServingState } from '../../store/model-store.js'
import { requireBearerToken } from '../admin/auth.js'
import { describeModel } from '../admin/describe.js'

export interface AdminDeps {
  registry: ModelRegistry
  /** Without a token the admin API is off: every /admin path answers 404 saying how to turn it on. */
  token: string | undefined
  /** Tells the other workers (and so every replica's next poll) that a model's serving state changed. */
  notify: (modelId: string) => void
}

type Params = { id: string; version: string; alias: string }
const versionBody = { type: 'object', required: ['version'], additionalProperties: false, properties: { version: { type: 'string', minLength: 1, maxLength: 128 } } } as const
const experimentBody = {
  type: 'object',
  required: ['weights'],
  additionalProperties: false,
  properties: {
    weights: { type: 'object', minProperties: 1, maxProperties: 64, additionalProperties: { type: 'number', minimum: 0 } },
    key: { type: 'string', minLength: 1, maxLength: 128 },
  },
} as const
const experimentView = (spec: ExperimentSpec | undefined) => (spec === undefined ? null : { weights: spec.weights, key: spec.key ?? null })
const rollbackBody = { type: 'object', additionalProperties: false, properties: { to: { type: 'string', minLength: 1, maxLength: 128 } } } as const

/**
 * The management API under /admin. Changes are written to the store's serving.json (so every
 * replica and every restart agrees), after the version was loaded and checked on this worker.
 */
export function adminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { registry, token, notify } = deps
  if (token === undefined) {
    app.all('/admin/*', async () => {
      throw new ServekitError('not_found', 'the admin API is disabled: set admin.token in servekit.config.ts or SERVEKIT_ADMIN_TOKEN')
    })
    return
  }

  // An encapsulated plugin: the token hook runs on admin routes only, never on /infer.
  void app.register(async (admin) => {
    requireBearerToken(admin, token)

    const change = async (id: string, edit: (s: ServingState) => ServingState) => {
      const entry = await registry.updateServingState(id, edit)
      notify(id)
      return describeModel(entry)
    }

    admin.get('/admin/models', async () => ({
      models: await Promise.all(
        registry.list().map(async (entry) => ({ ...describeModel(entry), store_versions: await registry.store.versions(entry.id).catch(() => null) })),
      ),
    }))

    admin.post<{ Params: Params; Querystring: { retry?: string } }>('/admin/reload', async () => {
      await registry.reconcileAll()
      for (const id of registry.ids) notify(id)
      return { models: registry.list().map(describeModel) }
    })

    admin.post<{ Params: Params }>('/admin/models/:id/versions/:version/load', async (request) => {
      const { id, version } = request.params
      await registry.prepare(id, version, { asDefault: false })
      return change(id, (s) => ({ ...s, load: [...(s.load ?? []), version], unload: (s.unload ?? []).filter((v) => v !== version) }))
    })

    admin.post<{ Params: Params }>('/admin/models/:id/versions/:version/unload', async (request) => {
      const { id, version } = request.params
      if (registry.get(id)?.serving?.version === version) {
        throw new ServekitError('invalid_request', `${id}@${version} is the default version; deploy or roll back to another version first`)
      }
      return change(id, (s) => ({ ...s, unload: [...(s.unload ?? []), version], load: (s.load ?? []).filter((v) => v !== version) }))
    })

    admin.put<{ Params: Params; Body: { version: string } }>('/admin/models/:id/default', { schema: { body: versionBody } }, async (request) => {
      const { id } = request.params
      const version = request.body.version
      await registry.prepare(id, version, { asDefault: true })
      return change(id, (s) => ({ ...s, default: version, unload: (s.unload ?? []).filter((v) => v !== version) }))
    })

    admin.delete<{ Params: Params }>('/admin/models/:id/default', async (request) => {
      return change(request.params.id, (s) => ({ ...s, default: undefined }))
    })

    admin.post<{ Params: Params; Body: { to?: string } | undefined }>('/admin/models/:id/rollback', { schema: { body: rollbackBody } }, async (request) => {
      const { id } = request.params
      const entry = registry.get(id)
      if (entry === undefined) throw new ServekitError('model_not_found', `model "${id.slice(0, 64)}" not found (known: ${registry.ids.join(', ')})`)
      const current = entry.serving?.version
      let target = request.body?.to
      if (target === undefined) {
        if (current === undefined) throw new ServekitError('invalid_request', `${id} serves no version; name one with {"to": "<version>"}`)
        const older = (await registry.store.versions(id)).filter((v) => compareVersions(v, current) < 0 && !entry.failures.has(v))
        target = older.at(-1)
        if (target === undefined) throw new ServekitError('version_not_found', `${id}@${current} has no older version to roll back to`)
      }
      await registry.prepare(id, target, { asDefault: true })
      return change(id, (s) => ({ ...s, default: target, unload: (s.unload ?? []).filter((v) => v !== target) }))
    })

    admin.put<{ Params: Params; Body: { version: string } }>('/admin/models/:id/aliases/:alias', { schema: { body: versionBody } }, async (request) => {
      const { id, alias } = request.params
      const version = request.body.version
      if (!isSafeName(alias)) throw new ServekitError('invalid_request', `alias "${alias.slice(0, 64)}" is not a valid name`, { details: { field: 'alias' } })
      await registry.prepare(id, version, { asDefault: false })
      return change(id, (s) => ({ ...s, aliases: { ...s.aliases, [alias]: version } }))
    })

    admin.delete<{ Params: Params }>('/admin/models/:id/aliases/:alias', async (request) => {
      const { id, alias } = request.params
      return change(id, (s) => {
        const aliases = { ...s.aliases }
        delete aliases[alias]
        return { ...s, aliases }
      })
    })

    // Experiment weights (docs/traffic.md): stored in serving.json, so they replace the config's on every worker and restart.
    admin.put<{ Params: Params; Body: ExperimentSpec }>('/admin/models/:id/experiment', { schema: { body: experimentBody } }, async (request) => {
      const { id } = request.params
      const { weights, key } = request.body
      const checked = experimentWeightsSchema.safeParse(weights)
      if (!checked.success) throw new ServekitError('invalid_request', `weights: ${checked.error.issues[0]?.message ?? 'invalid'}`, { details: { field: 'body.weights' } })
      // Every arm with a weight is loaded and self-tested before a request goes to it.
      const aliases = registry.get(id)?.aliases ?? {}
      for (const [arm, weight] of Object.entries(weights)) if (weight > 0) await registry.prepare(id, aliases[arm] ?? arm, { asDefault: false })
      const described = await change(id, (s) => ({ ...s, experiment: key === undefined ? { weights } : { weights, key } }))
      return { ...described, experiment: experimentView({ weights, key: key ?? registry.get(id)?.config.experiment?.key }) }
    })

    admin.delete<{ Params: Params }>('/admin/models/:id/experiment', async (request) => {
      const { id } = request.params
      const described = await change(id, (s) => ({ ...s, experiment: undefined }))
      return { ...described, experiment: experimentView(registry.get(id)?.config.experiment) }
    })
  })
}
