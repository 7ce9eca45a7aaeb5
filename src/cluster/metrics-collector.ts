import type { Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import type { Logger } from '../observe/logger.js'

type MetricsJson = Parameters<typeof AggregatorRegistry.aggregate>[0][number]

/**
 * Gathers every listening worker's metrics and sums them (prom-client's aggregation rules). Unlike
 * prom-client's own `clusterMetrics`, it asks only workers that are listening — a worker still
 * starting cannot answer and would fail the scrape — and on a timeout it answers with the workers
 * that did reply, logged, rather than failing.
 */
export function createMetricsCollector(options: { workers: () => Worker[]; logger: Logger; timeoutMs?: number }) {
  let nextId = 0
  const pending = new Map<number, { responses: MetricsJson[]; waiting: Set<number>; finish: () => void }>()
  return {
    contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
    /** A worker's answer to `servekit:metrics-collect`. */
    report(worker: Worker, id: number, metrics: MetricsJson): void {
      const p = pending.get(id)
      if (!p || !p.waiting.delete(worker.id)) return
      p.responses.push(metrics)
      if (p.waiting.size === 0) p.finish()
    },
    async metrics(): Promise<string> {
      const workers = options.workers()
      const id = ++nextId
      const responses: MetricsJson[] = []
      await new Promise<void>((resolve) => {
        const waiting = new Set(workers.map((w) => w.id))
        const timer = setTimeout(() => {
          options.logger.warn({ missing_workers: waiting.size }, 'metrics: some workers did not answer in time; scrape is partial')
          finish()
        }, options.timeoutMs ?? 3000)
        const finish = (): void => {
          clearTimeout(timer)
          pending.delete(id)
          resolve()
        }
        pending.set(id, { responses, waiting, finish })
        for (const w of workers) w.send({ type: 'servekit:metrics-collect', id })
        if (workers.length === 0) finish()
      })
      return AggregatorRegistry.aggregate(responses).metrics()
    },
  }
}
