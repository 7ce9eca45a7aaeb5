import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import type { ModelRegistry } from '../../../src/model/registry.js'
import type { Logger } from '../../../src/observe/logger.js'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { DriftMonitor, type VersionLookup } from '../../../src/observe/monitoring/drift-monitor.js'
import { DriftWatch } from '../../../src/observe/monitoring/drift-watch.js'
import { profileRows } from '../../../src/observe/monitoring/profile.js'
import { reportVersion } from '../../../src/observe/monitoring/report.js'
import { createMonitoring } from '../../../src/observe/monitoring/service-monitoring.js'
import { mergeSnapshots, type SnapshotQuery } from '../../../src/observe/monitoring/snapshot.js'
import type { TrainingStats } from '../../../src/observe/monitoring/training-stats.js'
import { installErrorHandling } from '../../../src/server/error-handler.js'
import { monitoringRoutes } from '../../../src/server/routes/monitoring.js'
import { parseMetrics } from '../../helpers/metrics.js'
import { normal, seeded } from '../../fixtures/monitoring/random.js'

const ALL: SnapshotQuery = { model_id: null, quantiles: true }
const OPTIONS = { threshold: 0.25, minCount: 100 }

const event = (features: unknown, output: unknown, model_id = 'm', model_version = '1'): PredictionEvent => ({
  ts: '2026-11-28T12:00:00.000Z',
  request_id: 'r',
  model_id,
  model_version,
  arm: null,
  features,
  output,
  latency_ms: 1,
  shadows: [],
})

async function* rowsOf<T>(rows: readonly T[]): AsyncIterable<T> {
  yield* rows
}

/** Training statistics of x ~ N(0,1), y ~ N(5,1) and output {score: x + y}. */
async function reference(): Promise<TrainingStats> {
  const rand = seeded(21)
  const rows = Array.from({ length: 4000 }, () => {
    const x = normal(rand)
    const y = 5 + normal(rand)
    return { features: { x, y }, output: { label: 'a', score: x + y } }
  })
  return (await profileRows(() => rowsOf(rows))).stats
}

/** Sends n predictions with x shifted by `shift`. */
function feed(monitor: DriftMonitor, n: number, shift: number, seed: number, version = '1'): void {
  const rand = seeded(seed)
  for (let i = 0; i < n; i++) {
    const x = shift + normal(rand)
    const y = 5 + normal(rand)
    monitor.record(event({ x, y, city: 'Paris' }, { label: 'a', score: x + y }, 'm', version))
  }
}

const loadedWith = (stats: TrainingStats | undefined, versions = ['1']): VersionLookup => (id, v) => (id === 'm' && versions.includes(v) ? { reference: stats } : undefined)

function fakeLogger(): { logger: Logger; warnings: Array<Record<string, unknown> & { msg: string }> } {
  const warnings: Array<Record<string, unknown> & { msg: string }> = []
  const logger = { warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ ...obj, msg }) } as unknown as Logger
  return { logger, warnings }
}

describe('DriftMonitor', () => {
  it('tracks numeric features of records and arrays, skips the rest, and counts missing values', () => {
    const monitor = new DriftMonitor({ lookup: (id) => (id === 'm' || id === 'a' ? { reference: undefined } : undefined), sampleRate: 1 })
    monitor.record(event({ x: 1, name: 'n', flag: true, nested: { z: 1 } }, 10))
    monitor.record(event({ x: 3, y: null }, 20))
    monitor.record(event({ y: 4 }, 'not a number'))
    monitor.record(event([1.5, 'b', 2.5], null, 'a'))
    const [a, m] = monitor.snapshot(ALL)
    expect(Object.keys(m!.features)).toEqual(['x', 'y'])
    expect(m!.events).toBe(3)
    expect(m!.features['x']).toMatchObject({ count: 3, missing: 1, mean: 2, min: 1, max: 3 })
    // y was first seen in the third prediction: tracked from there.
    expect(m!.features['y']).toMatchObject({ count: 1, missing: 0, mean: 4 })
    expect(m!.output).toMatchObject({ count: 3, missing: 1, mean: 15 })
    expect(m!.output_field).toBeNull()
    expect(Object.keys(a!.features)).toEqual(['0', '2'])
  })

  it('counts a reference feature that never arrives as 100% missing', async () => {
    const monitor = new DriftMonitor({ lookup: loadedWith(await reference()), sampleRate: 1 })
    for (let i = 0; i < 10; i++) monitor.record(event({ x: 0 }, { score: 1 }))
    const [s] = monitor.snapshot(ALL)
    expect(s!.features['y']).toMatchObject({ count: 10, missing: 10 })
    expect(reportVersion(s!, OPTIONS).features['y']!.missing_rate).toBe(1)
  })

  it("monitors the reference's output field of object outputs, else the first numeric field", async () => {
    const withRef = new DriftMonitor({ lookup: loadedWith(await reference()), sampleRate: 1 })
    withRef.record(event({ x: 1 }, { other: 7, score: 3 }))
    expect(withRef.snapshot(ALL)[0]).toMatchObject({ output_field: 'score', output: { mean: 3 } })
    const without = new DriftMonitor({ lookup: loadedWith(undefined), sampleRate: 1 })
    without.record(event({ x: 1 }, { label: 'a', p: 0.25, q: 9 }))
    without.record(event({ x: 1 }, { q: 9, p: 0.75 }))
    expect(without.snapshot(ALL)[0]).toMatchObject({ output_field: 'p', output: { count: 2, mean: 0.5 } })
  })

  it('records only the sampled share of predictions', () => {
    let i = 0
    const monitor = new DriftMonitor({ lookup: loadedWith(undefined), sampleRate: 0.25, random: () => (i++ % 4) / 4 })
    for (let k = 0; k < 100; k++) monitor.record(event({ x: k }, 1))
    expect(monitor.snapshot(ALL)[0]!.events).toBe(25)
    expect(new DriftMonitor({ lookup: loadedWith(undefined), sampleRate: 0 }).wants()).toBe(false)
  })

  it('tracks at most maxFeatures features per version (bounded memory) and says so', () => {
    const monitor = new DriftMonitor({ lookup: loadedWith(undefined), sampleRate: 1, maxFeatures: 3 })
    monitor.record(event({ a: 1, b: 2, c: 3, d: 4, e: 5 }, 0))
    const [s] = monitor.snapshot(ALL)
    expect(Object.keys(s!.features)).toEqual(['a', 'b', 'c'])
    expect(s!.truncated).toBe(true)
  })

  it('ignores versions that are not loaded and forgets versions once unloaded', () => {
    const loaded = ['1', '2']
    const monitor = new DriftMonitor({ lookup: (id, v) => (loaded.includes(v) ? { reference: undefined } : undefined), sampleRate: 1 })
    monitor.record(event({ x: 1 }, 0, 'm', '1'))
    monitor.record(event({ x: 1 }, 0, 'm', '2'))
    monitor.record(event({ x: 1 }, 0, 'm', '3'))
    expect(monitor.snapshot(ALL).map((s) => s.model_version)).toEqual(['1', '2'])
    loaded.splice(0, 1)
    expect(monitor.snapshot(ALL).map((s) => s.model_version)).toEqual(['2'])
  })

  it('never throws from record, whatever the lookup does', () => {
    const monitor = new DriftMonitor({
      lookup: () => {
        throw new Error('boom')
      },
      sampleRate: 1,
    })
    expect(() => monitor.record(event({ x: 1 }, 0))).not.toThrow()
  })

  it('two workers merged report what one process seeing every request reports', async () => {
    const stats = await reference()
    const one = new DriftMonitor({ lookup: loadedWith(stats), sampleRate: 1 })
    const w1 = new DriftMonitor({ lookup: loadedWith(stats), sampleRate: 1 })
    const w2 = new DriftMonitor({ lookup: loadedWith(stats), sampleRate: 1 })
    feed(one, 300, 1, 1)
    feed(one, 500, 1, 2)
    feed(w1, 300, 1, 1)
    feed(w2, 500, 1, 2)
    const single = reportVersion(one.snapshot(ALL)[0]!, OPTIONS)
    const merged = reportVersion(mergeSnapshots(JSON.parse(JSON.stringify([...w1.snapshot(ALL), ...w2.snapshot(ALL)])))[0]!, OPTIONS)
    expect(merged.events).toBe(800)
    for (const name of ['x', 'y']) {
      const a = merged.features[name]!
      const b = single.features[name]!
      expect(a.count).toBe(b.count)
      expect(a.mean).toBeCloseTo(b.mean!, 9)
      expect(a.std).toBeCloseTo(b.std!, 9)
      // Bin counts add up exactly, so PSI is exactly the single-process PSI.
      expect(a.psi).toBeCloseTo(b.psi!, 12)
      expect(Math.abs(a.quantiles!.p50! - b.quantiles!.p50!)).toBeLessThan(0.05)
    }
    expect(merged.drifted).toEqual(['x', '_output'])
  })
})

describe('DriftWatch', () => {
  it('warns "drift above threshold" for the shifted feature only, and exports the PSI gauge', async () => {
    const monitor = new DriftMonitor({ lookup: loadedWith(await reference(), ['1', '2']), sampleRate: 1 })
    feed(monitor, 400, 0, 1, '1')
    feed(monitor, 400, 1.5, 2, '2')
    const { logger, warnings } = fakeLogger()
    const watch = new DriftWatch({ ...OPTIONS, intervalMs: 60_000, logger, gather: async (q) => ({ snapshots: monitor.snapshot(q), workers: { total: 1, answered: 1 } }) })
    await watch.check()
    expect(warnings.map((w) => [w.msg, w['model_id'], w['model_version'], w['feature']])).toEqual([
      ['drift above threshold', 'm', '2', 'x'],
      ['drift above threshold', 'm', '2', '_output'],
    ])
    expect(warnings[0]!['psi']).toBeGreaterThan(0.25)

    const registry = new Registry()
    watch.registerGauge(registry)
    const m = parseMetrics(await registry.metrics())
    expect(m.get('servekit_drift_psi{model="m",version="2",feature="x"}')).toBeGreaterThan(0.25)
    expect(m.get('servekit_drift_psi{model="m",version="1",feature="x"}')).toBeLessThan(0.1)
    expect(m.get('servekit_drift_psi{model="m",version="1",feature="y"}')).toBeLessThan(0.1)
  })
})

describe('DriftMonitor: maxPerSecond', () => {
  it('records every prediction up to the limit, then a share that keeps about the limit per second', () => {
    let now = 0
    const monitor = new DriftMonitor({ lookup: loadedWith(undefined), sampleRate: 1, maxPerSecond: 100, random: seeded(4), now: () => now })
    const second = (n: number) => {
      for (let i = 0; i < n; i++) {
        now += 1000 / n
        monitor.record(event({ x: i }, 1))
      }
    }
    const count = () => monitor.snapshot(ALL)[0]!.events
    // A quiet second (60 predictions): every one counted.
    second(60)
    expect(count()).toBe(60)
    // Traffic jumps to 5000 a second: the share follows one window (a second) late...
    second(5000)
    const afterRamp = count()
    expect(afterRamp).toBeGreaterThan(160)
    // ...and from then on about 100 a second are recorded (limit / rate), not 5000.
    for (let s = 0; s < 10; s++) second(5000)
    const recorded = count() - afterRamp
    expect(recorded).toBeGreaterThan(800)
    expect(recorded).toBeLessThan(1200)
    // Traffic drops back: once a window saw only the quiet traffic, every prediction counts again.
    for (let s = 0; s < 3; s++) second(50)
    const before = count()
    second(50)
    expect(count() - before).toBe(50)
  })

  it('limits each version on its own: a busy version does not starve a quiet one', () => {
    let now = 0
    const monitor = new DriftMonitor({ lookup: loadedWith(undefined, ['1', '2']), sampleRate: 1, maxPerSecond: 10, random: seeded(5), now: () => now })
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 1000; i++) {
        now += 1
        monitor.record(event({ x: i }, 1, 'm', '1'))
        if (i % 200 === 0) monitor.record(event({ x: i }, 1, 'm', '2'))
      }
    }
    const byVersion = Object.fromEntries(monitor.snapshot(ALL).map((v) => [v.model_version, v.events]))
    expect(byVersion['2']).toBe(25)
    expect(byVersion['1']).toBeLessThan(1000 + 4 * 20)
  })
})

describe('GET /models/:id/monitoring (in one process)', () => {
  async function app(stats: TrainingStats | undefined, enabled = true) {
    const { logger } = fakeLogger()
    const monitoring = enabled ? createMonitoring({ sampleRate: 1, maxPerSecond: 0, threshold: 0.25, minCount: 100, intervalMs: 60_000 }, { lookup: loadedWith(stats), logger, registry: undefined }) : undefined
    const registry = {
      ids: ['m'],
      get: (id: string) => (id === 'm' ? { loaded: new Map([['1', { version: '1', artifact: { manifest: { training_stats: stats } } }]]) } : undefined),
    } as unknown as ModelRegistry
    const server = Fastify()
    installErrorHandling(server, logger)
    monitoringRoutes(server, { registry, monitoring })
    return { server, monitoring }
  }

  it('reports every loaded version, with PSI once enough predictions arrived', async () => {
    const { server, monitoring } = await app(await reference())
    let res = await server.inject('/models/m/monitoring')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ model_id: 'm', threshold: 0.25, min_count: 100, workers: { total: 1, answered: 1 }, versions: [{ model_version: '1', events: 0, has_reference: true }] })
    feed(monitoring!.monitor, 300, 0, 4)
    res = await server.inject('/models/m/monitoring')
    const [v] = res.json().versions
    expect(v).toMatchObject({ model_version: '1', events: 300, has_reference: true, drifted: [] })
    expect(v.features.x).toMatchObject({ count: 300, missing_rate: 0, drifted: false, reference: { count: 4000 } })
    expect(v.features.x.psi).toBeLessThan(0.1)
    expect(Object.keys(v.features.x.quantiles)).toEqual(['p01', 'p05', 'p25', 'p50', 'p75', 'p95', 'p99'])
    expect(v.output).toMatchObject({ field: 'score', count: 300 })
    monitoring!.close()
  })

  it('answers 404 model_not_found for an unknown model and not_found when monitoring is off', async () => {
    const on = await app(undefined)
    expect((await on.server.inject('/models/nope/monitoring')).json().error.code).toBe('model_not_found')
    on.monitoring!.close()
    const off = await app(undefined, false)
    const res = await off.server.inject('/models/m/monitoring')
    expect(res.statusCode).toBe(404)
    expect(res.json().error).toMatchObject({ code: 'not_found', message: expect.stringContaining('monitoring.enabled') })
  })
})
