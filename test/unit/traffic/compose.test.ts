import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { modelConfigSchema } from '../../../src/config/schema.js'
import { toPromise } from '../../../src/model/maybe-promise.js'
import { createPredictor } from '../../../src/model/predictor.js'
import { ModelRegistry } from '../../../src/model/registry.js'
import { createLogger } from '../../../src/observe/logger.js'
import type { PredictionEvent, PredictionListener } from '../../../src/observe/prediction-event.js'
import { FsModelStore } from '../../../src/store/fs-model-store.js'
import { buildTraffic, type Traffic } from '../../../src/traffic/compose.js'
import { Experiment, ExperimentTable } from '../../../src/traffic/experiments.js'

const logger = createLogger({ level: 'silent', pretty: false })
const never = new AbortController().signal
let root: string
let registry: ModelRegistry
let traffic: Traffic
const events: PredictionEvent[] = []
const waiters: Array<() => void> = []
const shadowed: string[] = []

// A listener like the prediction log: it only queues.
const listener: PredictionListener = {
  wants: (id) => id !== 'quiet',
  record: (e) => {
    events.push(e)
    waiters.splice(0).forEach((w) => w())
  },
  close: async () => {},
}
const eventCount = (n: number) => new Promise<void>((resolve) => (events.length >= n ? resolve() : waiters.push(function again() { if (events.length >= n) resolve(); else waiters.push(again) })))

const models = {
  // w.json: 1 in version 1, 10 in version 2.
  ab: { module: './scale.mjs', versions: ['1', '2'], default: '1', experiment: { weights: { '1': 1, '2': 1 }, key: 'user' }, shadow: [{ model: 'boom', sampleRate: 1 }, { version: '2', sampleRate: 1 }] },
  boom: { module: './boom.mjs' },
  quiet: { module: './scale.mjs' },
  batchy: { module: './scale.mjs', batching: { maxBatchSize: 4, maxDelayMs: 5 } },
  stuck: { module: './stuck.mjs', timeoutMs: 20, concurrency: { max: 1, queue: 0 } },
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'servekit-traffic-unit-'))
  for (const [name, version, w] of [['ab', '1', 1], ['ab', '2', 10], ['boom', '1', 0], ['quiet', '1', 1], ['batchy', '1', 3], ['stuck', '1', 0]] as const) {
    await mkdir(join(root, 'models', name, version), { recursive: true })
    await writeFile(join(root, 'models', name, version, 'w.json'), JSON.stringify({ w }))
  }
  await writeFile(
    join(root, 'scale.mjs'),
    `export default {
      async load(a) { return a.readJson('w.json') },
      predict(m, f) { if (typeof f.x !== 'number') throw Object.assign(new Error('x must be a number'), {}); return m.w * f.x },
      predictBatch(m, list) { globalThis.__batches = [...(globalThis.__batches ?? []), list.length]; return list.map((f) => m.w * f.x) },
    }`,
  )
  await writeFile(join(root, 'boom.mjs'), `export default { load() { return null }, predict() { globalThis.__boom = (globalThis.__boom ?? 0) + 1; throw new Error('boom') } }`)
  await writeFile(join(root, 'stuck.mjs'), `export default { load() { return null }, predict() { return new Promise((r) => { globalThis.__release = r }) } }`)
  const configs = Object.fromEntries(Object.entries(models).map(([id, m]) => [id, modelConfigSchema.parse(m)]))
  const experiments = new ExperimentTable(configs, logger)
  registry = new ModelRegistry({ models: configs, store: experiments.observe(new FsModelStore(join(root, 'models'))), baseDir: root, logger, events: experiments.events(undefined) })
  await registry.loadAll()
  const { predict, predictBatch } = createPredictor(registry)
  traffic = buildTraffic({ registry, models: configs, predict, predictBatch, experiments, listeners: [listener], logger, hooks: { shadowed: (_m, target) => shadowed.push(target) } })
})
afterAll(async () => {
  await traffic.close()
  await registry.unloadAll()
  await rm(root, { recursive: true, force: true })
})

describe('buildTraffic', () => {
  it('records each prediction once, with its arm, after the answer', async () => {
    events.length = 0
    const res = await traffic.predict({ modelId: 'batchy', features: { x: 2 }, requestId: 'r1' }, never)
    expect(res).toEqual({ output: 6, modelId: 'batchy', modelVersion: '1' })
    expect(events).toEqual([{ ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), request_id: 'r1', model_id: 'batchy', model_version: '1', arm: null, features: { x: 2 }, output: 6, latency_ms: expect.any(Number), shadows: [] }])
    // Nobody wants `quiet`: no event is built.
    await traffic.predict({ modelId: 'quiet', features: { x: 2 }, requestId: 'r2' }, never)
    expect(events).toHaveLength(1)
  })

  it('answers a shadowed request before its shadows run, and records primary and shadows together', async () => {
    events.length = 0
    // A user in arm 1, so the version-2 shadow is not the primary itself.
    const split = new Experiment('ab', { weights: { '1': 1, '2': 1 } })
    const user = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'].find((u) => split.pick(u) === '1')
    const boomBefore = (globalThis as { __boom?: number }).__boom ?? 0
    const res = await traffic.predict({ modelId: 'ab', features: { x: 3, user }, requestId: 'r3' }, never)
    expect(res).toEqual({ output: 3, modelId: 'ab', modelVersion: '1', arm: '1' })
    expect((globalThis as { __boom?: number }).__boom ?? 0).toBe(boomBefore)
    expect(events).toEqual([])
    await eventCount(1)
    expect((globalThis as { __boom?: number }).__boom).toBe(boomBefore + 1)
    const event = events.at(-1)!
    expect(event).toMatchObject({ request_id: 'r3', model_version: '1', arm: '1', output: 3 })
    expect(event.shadows).toEqual([
      { target: 'boom', output: null, error: { code: 'prediction_failed', message: expect.stringContaining('boom') }, latency_ms: expect.any(Number), agreed: false, max_abs_diff: null },
      { target: 'ab@2', output: 30, error: null, latency_ms: expect.any(Number), agreed: false, max_abs_diff: 27 },
    ])
    expect(shadowed).toContain('ab@2')
  })

  it('records one event per instance of a batch request, all with its request id', async () => {
    events.length = 0
    const res = await traffic.predictBatch({ modelId: 'quiet@1', instances: [{ x: 1 }], requestId: 'b0' }, never)
    expect(res.results).toEqual([{ output: 1 }])
    const batch = await traffic.predictBatch({ modelId: 'batchy', instances: [{ x: 1 }, { x: 2 }], requestId: 'b1' }, never)
    expect(batch.results).toEqual([{ output: 3 }, { output: 6 }])
    expect(events.map((e) => [e.request_id, e.features, e.output])).toEqual([
      ['b1', { x: 1 }, 3],
      ['b1', { x: 2 }, 6],
    ])
  })

  it('batches concurrent requests of a model with batching on', async () => {
    ;(globalThis as { __batches?: number[] }).__batches = []
    const outputs = await Promise.all([1, 2, 3, 4, 5].map((x) => traffic.predict({ modelId: 'batchy', features: { x }, requestId: `c${x}` }, never)))
    expect(outputs.map((o) => o.output)).toEqual([3, 6, 9, 12, 15])
    expect((globalThis as { __batches?: number[] }).__batches).toEqual([4, 1])
  })

  it('times out a stuck model, and keeps its slot taken until it really ends', async () => {
    const first = await toPromise(() => traffic.predict({ modelId: 'stuck', features: {}, requestId: 's1' }, never)).catch((e: { code: string }) => e.code)
    expect(first).toBe('prediction_timeout')
    expect(await toPromise(() => traffic.predict({ modelId: 'stuck', features: {}, requestId: 's2' }, never)).catch((e: { code: string }) => e.code)).toBe('overloaded')
    // Other models are not affected.
    expect((await traffic.predict({ modelId: 'quiet', features: { x: 1 }, requestId: 's3' }, never)).output).toBe(1)
    ;(globalThis as { __release?: (v: unknown) => void }).__release?.(0)
  })

  it('answers model_not_found for unknown ids through the data plane below', async () => {
    expect(() => traffic.predict({ modelId: 'nope', features: {}, requestId: 'n' }, never)).toThrow(expect.objectContaining({ code: 'model_not_found' }))
  })
})
