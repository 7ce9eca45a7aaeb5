import cluster, { type Worker } from 'node:cluster'
import type { Logger } from '../observe/logger.js'
import { createClusterAggregator } from '../observe/metrics.js'
import { isWorkerMessage, type PrimaryMessage } from './messages.js'

export interface PrimaryOptions {
  workers: number
  shutdownTimeoutMs: number
  logger: Logger
}

/** Restart delays after a worker dies young: 0.1 s doubling to 5 s, reset once one lives 10 s. */
const MIN_RESTART_MS = 100
const MAX_RESTART_MS = 5_000
const HEALTHY_AFTER_MS = 10_000

/**
 * The primary forks the workers, restarts any that die, logs one listening line when all are up,
 * and on SIGTERM/SIGINT asks every worker to drain, exiting 0 once they have.
 */
export function runPrimary(options: PrimaryOptions): void {
  const { logger } = options
  const started = new Map<number, number>()
  const listening = new Set<number>()
  let announced = false
  let shuttingDown = false
  let restartDelay = MIN_RESTART_MS
  const aggregator = createClusterAggregator()

  const fork = (): Worker => {
    const worker = cluster.fork()
    started.set(worker.id, Date.now())
    worker.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return
      if (m.type === 'servekit:metrics-request') {
        const reply = (r: Omit<Extract<PrimaryMessage, { type: 'servekit:metrics-response' }>, 'type' | 'id'>) => {
          if (worker.isConnected()) worker.send({ type: 'servekit:metrics-response', id: m.id, ...r } satisfies PrimaryMessage)
        }
        aggregator.metrics().then(
          (text) => reply({ text, contentType: aggregator.contentType }),
          (err: unknown) => reply({ text: '', contentType: aggregator.contentType, error: String(err) }),
        )
        return
      }
      if (m.type === 'servekit:changed') {
        // Relay an admin change to every other worker so they all serve the same versions.
        const relay: PrimaryMessage = { type: 'servekit:reconcile', model_id: m.model_id }
        for (const w of Object.values(cluster.workers ?? {})) if (w && w !== worker && w.isConnected()) w.send(relay)
        return
      }
      listening.add(worker.id)
      if (!announced && listening.size >= options.workers) {
        announced = true
        logger.info({ address: m.address, port: m.port, admin_address: m.admin_address, workers: options.workers }, `servekit listening on ${m.address}`)
      }
    })
    return worker
  }

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id)
    const lived = Date.now() - (started.get(worker.id) ?? 0)
    started.delete(worker.id)
    if (shuttingDown) {
      if (Object.keys(cluster.workers ?? {}).length === 0) finish(0)
      return
    }
    restartDelay = lived > HEALTHY_AFTER_MS ? MIN_RESTART_MS : Math.min(restartDelay * 2, MAX_RESTART_MS)
    logger.error({ worker_pid: worker.process.pid, code, signal, restart_in_ms: restartDelay }, 'worker died; restarting it')
    setTimeout(() => {
      if (!shuttingDown) fork()
    }, restartDelay).unref()
  })

  const shutdown = (signal: string): void => {
    if (shuttingDown) return
    shuttingDown = true
    logger.info({ signal }, 'shutting down: draining in-flight requests')
    const message: PrimaryMessage = { type: 'servekit:shutdown' }
    const workers = Object.values(cluster.workers ?? {})
    if (workers.length === 0) return finish(0)
    for (const w of workers) if (w?.isConnected()) w.send(message)
    setTimeout(() => {
      logger.error({ timeout_ms: options.shutdownTimeoutMs }, 'workers did not drain in time; killing them')
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
      finish(1)
    }, options.shutdownTimeoutMs).unref()
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  const finish = (code: number): void => {
    logger.info({ code }, 'servekit stopped')
    logger.flush()
    process.exit(code)
  }

  for (let i = 0; i < options.workers; i++) fork()
}
