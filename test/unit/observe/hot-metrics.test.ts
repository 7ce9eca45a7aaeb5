import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { HotCounter, HotHistogram } from '../../../src/observe/hot-metrics.js'
import { LATENCY_BUCKETS } from '../../../src/observe/metrics.js'
import { seeded } from '../../fixtures/monitoring/random.js'

/** The same observations through prom-client's own classes and through the hot ones. */
function twin(values: ReadonlyArray<readonly [string, string, number]>) {
  const ref = new Registry()
  const hot = new Registry()
  const refCounter = new Counter({ name: 'x_requests_total', help: 'h', labelNames: ['model', 'code'], registers: [ref] })
  const refHistogram = new Histogram({ name: 'x_duration_seconds', help: 'h', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers: [ref] })
  const hotCounter = new HotCounter({ name: 'x_requests_total', help: 'h', labelNames: ['model', 'code'], registry: hot })
  const hotHistogram = new HotHistogram({ name: 'x_duration_seconds', help: 'h', labelNames: ['model'], buckets: LATENCY_BUCKETS, registry: hot })
  for (const [model, code, seconds] of values) {
    refCounter.inc({ model, code })
    refHistogram.observe({ model }, seconds)
    hotCounter.series({ model, code }).inc()
    hotHistogram.series({ model }).observe(seconds)
  }
  return { ref, hot, hotHistogram }
}

function observations(n: number, seed: number): Array<[string, string, number]> {
  const rand = seeded(seed)
  // Log-uniform over 10 µs to 30 s, so every bucket and the overflow get some; values on a bound
  // exactly (le is inclusive) too.
  return Array.from({ length: n }, (_, i) => [rand() < 0.7 ? 'sum' : 'tabular', rand() < 0.9 ? '200' : '400', i % 17 === 0 ? LATENCY_BUCKETS[i % LATENCY_BUCKETS.length]! : 10 ** (-5 + rand() * 6.5)])
}

describe('hot metrics', () => {
  it('print exactly what prom-client prints for the same observations', async () => {
    const { ref, hot } = twin(observations(5000, 1))
    const text = await hot.metrics()
    expect(text).toBe(await ref.metrics())
    expect(text).toContain('x_duration_seconds_bucket{le="0.0001",model="sum"}')
    expect(text).toMatch(/x_requests_total\{model="tabular",code="400"\} \d+/)
  })

  it('sum over cluster workers as prom-client does', async () => {
    const a = twin(observations(800, 2))
    const b = twin(observations(1200, 3))
    const ref = await AggregatorRegistry.aggregate([await a.ref.getMetricsAsJSON(), await b.ref.getMetricsAsJSON()]).metrics()
    const hot = await AggregatorRegistry.aggregate([await a.hot.getMetricsAsJSON(), await b.hot.getMetricsAsJSON()]).metrics()
    expect(hot).toBe(ref)
    expect(hot).toContain('x_duration_seconds_count{model="sum"}')
  })

  it('keeps one series per label set, drops one on remove, and ignores NaN', async () => {
    const registry = new Registry()
    const h = new HotHistogram({ name: 'y_seconds', help: 'h', labelNames: ['model', 'version'], buckets: [0.1, 1], registry })
    expect(h.series({ model: 'm', version: '1' })).toBe(h.series({ model: 'm', version: '1' }))
    h.series({ model: 'm', version: '1' }).observe(0.5)
    h.series({ model: 'm', version: '1' }).observe(Number.NaN)
    h.series({ model: 'm', version: '2' }).observe(5)
    let text = await registry.metrics()
    expect(text).toContain('y_seconds_bucket{le="1",model="m",version="1"} 1')
    expect(text).toContain('y_seconds_bucket{le="+Inf",model="m",version="2"} 1')
    expect(text).toContain('y_seconds_sum{model="m",version="1"} 0.5')
    h.remove({ model: 'm', version: '2' })
    text = await registry.metrics()
    expect(text).not.toContain('version="2"')
    expect(text).toContain('y_seconds_count{model="m",version="1"} 1')
  })

  it('refuses a second metric of the same name on a registry, as prom-client does', () => {
    const registry = new Registry()
    new HotCounter({ name: 'z_total', help: 'h', labelNames: [], registry })
    expect(() => new Counter({ name: 'z_total', help: 'h', registers: [registry] })).toThrow(/already been registered/)
  })
})
