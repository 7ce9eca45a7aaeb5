import { describe, expect, it } from 'vitest'
import { createMonitoringCollector, type MonitoringCollect } from '../../../src/observe/monitoring/cluster.js'
import { DriftMonitor } from '../../../src/observe/monitoring/drift-monitor.js'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { manifestSchema } from '../../../src/store/manifest.js'

const event = (x: number): PredictionEvent => ({ ts: '', request_id: 'r', model_id: 'm', model_version: '1', arm: null, features: { x }, output: x, latency_ms: 0, shadows: [] })

/** A worker with its own monitor, answering collects over a (JSON) channel like node:cluster's. */
function worker(values: number[], answer = true) {
  const monitor = new DriftMonitor({ lookup: () => ({ reference: undefined }), sampleRate: 1 })
  for (const x of values) monitor.record(event(x))
  let collector: ReturnType<typeof createMonitoringCollector> | undefined
  return {
    connect: (c: ReturnType<typeof createMonitoringCollector>) => (collector = c),
    send(m: MonitoringCollect) {
      if (!answer) return
      const snapshots = JSON.parse(JSON.stringify(monitor.snapshot(m.query)))
      setImmediate(() => collector!.report({ type: 'servekit:monitoring-report', id: m.id, snapshots }))
    },
  }
}

describe('createMonitoringCollector (the primary)', () => {
  it("merges every worker's answer into one state per version", async () => {
    const workers = [worker([1, 2, 3]), worker([4, 5])]
    const collector = createMonitoringCollector({ workers: () => workers })
    workers.forEach((w) => w.connect(collector))
    const { snapshots, workers: count } = await collector.collect({ model_id: 'm', quantiles: true })
    expect(count).toEqual({ total: 2, answered: 2 })
    expect(snapshots).toHaveLength(1)
    expect(snapshots[0]).toMatchObject({ model_id: 'm', events: 5, features: { x: { count: 5, mean: 3, min: 1, max: 5 } } })
  })

  it('answers without a worker that does not reply in time, and says so', async () => {
    const workers = [worker([1, 2, 3]), worker([10], false)]
    const collector = createMonitoringCollector({ workers: () => workers, timeoutMs: 50 })
    workers.forEach((w) => w.connect(collector))
    const { snapshots, workers: count } = await collector.collect({ model_id: null, quantiles: false })
    expect(count).toEqual({ total: 2, answered: 1 })
    expect(snapshots[0]!.events).toBe(3)
  })

  it('answers at once when no worker listens, and skips a worker whose channel is closed', async () => {
    expect((await createMonitoringCollector({ workers: () => [] }).collect({ model_id: null, quantiles: false })).workers).toEqual({ total: 0, answered: 0 })
    const closed = {
      send() {
        throw new Error('ERR_IPC_CHANNEL_CLOSED')
      },
    }
    const collector = createMonitoringCollector({ workers: () => [closed] })
    expect((await collector.collect({ model_id: null, quantiles: false })).workers).toEqual({ total: 1, answered: 0 })
  })
})

describe('training_stats in model.json', () => {
  const feature = { count: 10, missing_rate: 0, mean: 0, std: 1, bins: [0], fractions: [0.5, 0.5] }

  it('accepts what servekit profile writes', () => {
    expect(manifestSchema.safeParse({ training_stats: { rows: 10, features: { x: feature }, output: { ...feature, field: 'p' } } }).success).toBe(true)
  })

  it('refuses bins and fractions that do not match, naming the field', () => {
    const parsed = manifestSchema.safeParse({ training_stats: { features: { x: { ...feature, fractions: [1] } } } })
    expect(parsed.success).toBe(false)
    expect(parsed.error!.issues[0]!.path).toEqual(['training_stats', 'features', 'x'])
    expect(parsed.error!.issues[0]!.message).toContain('one entry more than bins')
    expect(manifestSchema.safeParse({ training_stats: { features: { x: { ...feature, bins: [1, 0], fractions: [0.3, 0.3, 0.4] } } } }).success).toBe(false)
  })
})
