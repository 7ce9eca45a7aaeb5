import { describe, expect, it } from 'vitest'
import { configSchema, modelConfigSchema } from '../../../src/config/schema.js'
import type { PredictResult } from '../../../src/model/predictor.js'
import type { ModelEntry } from '../../../src/model/registry.js'
import { desiredState } from '../../../src/model/version-policy.js'
import { createLogger } from '../../../src/observe/logger.js'
import type { ModelStore, ServingState } from '../../../src/store/model-store.js'
import { formatServingState, parseServingState } from '../../../src/store/serving-state.js'
import { Experiment, ExperimentTable } from '../../../src/traffic/experiments.js'
import { withExperiment } from '../../../src/traffic/with-experiment.js'

const logger = createLogger({ level: 'silent', pretty: false })
const signal = new AbortController().signal
const model = (c: Record<string, unknown> = {}) => modelConfigSchema.parse({ module: './m.ts', ...c })
const count = (arms: string[]) => arms.reduce<Record<string, number>>((n, a) => ({ ...n, [a]: (n[a] ?? 0) + 1 }), {})

describe('Experiment', () => {
  const ab = new Experiment('ab', { weights: { '3': 90, '4': 10 } })

  it('splits 2000 keys within a few percent of 90/10, and 2000 keyless requests too', () => {
    const keyed = count(Array.from({ length: 2000 }, (_, i) => ab.pick(`user-${i}`)))
    expect(keyed['3']! / 2000).toBeGreaterThan(0.87)
    expect(keyed['3']! / 2000).toBeLessThan(0.93)
    const random = count(Array.from({ length: 2000 }, () => ab.pick(undefined)))
    expect(random['3']! / 2000).toBeGreaterThan(0.87)
    expect(random['3']! / 2000).toBeLessThan(0.93)
  })

  it('gives the same key the same arm, in any instance built from the same weights', () => {
    const again = new Experiment('ab', { weights: { '4': 10, '3': 90 } })
    for (let i = 0; i < 200; i++) expect(again.pick(`k${i}`)).toBe(ab.pick(`k${i}`))
  })

  it('moves keys only into an arm whose share grows', () => {
    const wider = new Experiment('ab', { weights: { '3': 80, '4': 20 } })
    for (let i = 0; i < 2000; i++) if (ab.pick(`user-${i}`) === '4') expect(wider.pick(`user-${i}`)).toBe('4')
  })

  it('never picks an arm with weight 0, and normalises any total', () => {
    const e = new Experiment('m', { weights: { a: 0, b: 3, c: 1 } })
    expect(e.arms).toEqual(['b', 'c'])
    expect(e.describe()).toEqual({ weights: { b: 75, c: 25 }, key: null })
    expect([0, 0.74, 0.75, 0.999].map((u) => e.armAt(u))).toEqual(['b', 'b', 'c', 'c'])
  })
})

describe('withExperiment', () => {
  const slot = { current: new Experiment('ab', { weights: { '3': 1, '4': 1 }, key: 'user' }) }
  const seen: Array<string | undefined> = []
  const inner = async (req: { modelId: string; modelVersion?: string | undefined }): Promise<PredictResult> => {
    seen.push(req.modelVersion)
    return { output: 1, modelId: 'ab', modelVersion: req.modelVersion ?? 'default' }
  }
  const loaded = new Set(['3', '4'])
  const predict = withExperiment('ab', slot, (arm) => loaded.has(arm))(inner)
  const req = (extra: Record<string, unknown>) => ({ modelId: 'ab', features: { user: 'alice' }, requestId: 'r', ...extra })

  it('sends a request that names no version to an arm and says which', async () => {
    const res = await predict(req({}), signal)
    expect(res.arm).toBe(slot.current.pick('alice'))
    expect(res.modelVersion).toBe(res.arm)
  })

  it('keys by experiment_key first, then the key feature', async () => {
    const byKey = await predict(req({ experimentKey: 'session-1' }), signal)
    expect(byKey.arm).toBe(slot.current.pick('session-1'))
  })

  it('leaves requests that name a version alone', async () => {
    expect(await predict(req({ modelVersion: '3' }), signal)).toEqual({ output: 1, modelId: 'ab', modelVersion: '3' })
    expect((await predict(req({ modelId: 'ab@4' }), signal)).arm).toBeUndefined()
  })

  it('skips an arm that is not loaded: the default answers, with no arm', async () => {
    loaded.delete(slot.current.pick('alice'))
    const res = await predict(req({}), signal)
    expect(res).toEqual({ output: 1, modelId: 'ab', modelVersion: 'default' })
    loaded.add('3').add('4')
  })
})

describe('ExperimentTable', () => {
  const fakeStore = (state: { current: ServingState }): ModelStore =>
    ({ description: 'fake', versions: async () => ['3', '4'], readServingState: async () => state.current }) as unknown as ModelStore
  const entry = (config: ReturnType<typeof model>) => ({ id: 'ab', config, routes: new Map([['3', {}], ['4', {}]]) }) as unknown as ModelEntry

  it('publishes the weights the last reconcile read, store over config, when the registry says it changed', async () => {
    const config = model({ versions: ['3', '4'], experiment: { weights: { '3': 9, '4': 1 }, key: 'user' } })
    const table = new ExperimentTable({ ab: config }, logger)
    const state = { current: {} as ServingState }
    const store = table.observe(fakeStore(state))
    const events = table.events(undefined)
    const slot = table.slot('ab')!

    await store.readServingState('ab')
    expect(slot.current).toBeUndefined()
    events.changed?.(entry(config))
    expect(slot.current?.describe()).toEqual({ weights: { '3': 90, '4': 10 }, key: 'user' })

    // The same weights read again: the same object, so requests never see a swap for nothing.
    const first = slot.current
    await store.readServingState('ab')
    events.changed?.(entry(config))
    expect(slot.current).toBe(first)

    state.current = { experiment: { weights: { '4': 1 } } }
    await store.readServingState('ab')
    events.changed?.(entry(config))
    expect(slot.current?.describe()).toEqual({ weights: { '4': 100 }, key: 'user' })
  })

  it('passes the other store calls through, and the inner registry events too', async () => {
    const table = new ExperimentTable({ ab: model() }, logger)
    const store = table.observe(fakeStore({ current: {} }))
    expect(store.description).toBe('fake')
    expect(await store.versions('ab')).toEqual(['3', '4'])
    const calls: string[] = []
    table.events({ changed: (e) => calls.push(e.id), loaded: () => calls.push('loaded') }).changed?.(entry(model()))
    expect(calls).toEqual(['ab'])
  })
})

describe('experiment arms in the version policy, the store and the config', () => {
  it('loads every arm with a weight (versions or aliases), and never unloads one', () => {
    const c = model({ aliases: { canary: '4' }, experiment: { weights: { '2': 90, canary: 10, '1': 0 } } })
    expect(desiredState(c, ['1', '2', '3', '4'], { unload: ['2'] })).toMatchObject({ load: ['4', '2'], default: '4' })
  })

  it('loads a version of the model named by a shadow target or an arm, without making it the default', () => {
    expect(desiredState(model({ versions: '3', shadow: [{ version: '4', sampleRate: 0.1 }] }), ['3', '4'], {})).toMatchObject({ load: ['4', '3'], default: '3' })
    expect(desiredState(model({ versions: '3', experiment: { weights: { '3': 9, '4': 1 } } }), ['3', '4'], {})).toMatchObject({ load: ['4', '3'], default: '3' })
  })

  it('lets serving.json replace the config weights, keeping the config key', () => {
    const c = model({ experiment: { weights: { '1': 1 }, key: 'user' } })
    const s = desiredState(c, ['1', '2', '3'], { experiment: { weights: { '2': 1 } } })
    expect(s.load).toEqual(['3', '2'])
    expect(s.experiment).toEqual({ weights: { '2': 1 }, key: 'user' })
  })

  it('round-trips experiment weights through serving.json and refuses weights summing to 0', () => {
    const state = { experiment: { weights: { '4': 10, '3': 90 }, key: 'user' } }
    expect(parseServingState(formatServingState(state), 'serving.json')).toEqual(state)
    expect(() => parseServingState('{"experiment": {"weights": {"3": 0}}}', 's.json')).toThrow(/sum to more than 0/)
  })

  it('refuses shadow targets that are not models of the service, and weights summing to 0', () => {
    const parse = (models: Record<string, unknown>) => configSchema.safeParse({ models })
    const bad = parse({ a: { module: 'a.ts', shadow: [{ model: 'nope', sampleRate: 1 }] } })
    expect(bad.success).toBe(false)
    expect(bad.error?.issues[0]).toMatchObject({ path: ['models', 'a', 'shadow', 0, 'model'], message: expect.stringContaining('"nope" is not a model of this service') })
    expect(parse({ a: { module: 'a.ts', shadow: [{ model: 'a', sampleRate: 1 }] } }).success).toBe(false)
    expect(parse({ a: { module: 'a.ts', shadow: [{ version: '2', sampleRate: 0.1 }] } }).success).toBe(true)
    expect(parse({ a: { module: 'a.ts', experiment: { weights: { '1': 0 } } } }).success).toBe(false)
  })

  it('gives every model a 1 s timeout and a concurrency limit, and nothing else, by default', () => {
    expect(model()).toMatchObject({ timeoutMs: 1000, concurrency: { max: 64, queue: 256 }, shadow: [] })
    expect(model().batching).toBeUndefined()
    expect(model({ batching: {} }).batching).toEqual({ maxBatchSize: 32, maxDelayMs: 2 })
  })
})
