import cluster from 'node:cluster'
import type { AddressInfo } from 'node:net'
import type { LoadedConfig } from '../config/load-config.js'
import type { Logger } from '../observe/logger.js'
import { createService } from '../service.js'
import type { Metrics } from '../observe/metrics.js'
import { ServekitError } from '../errors.js'
import { startTracing } from '../observe/tracing.js'
import type { PrimaryMessage, WorkerMessage } from './messages.js'
import type { GatheredSnapshots, SnapshotQuery } from '../observe/monitoring/snapshot.js'
import { watchMemory, type MemoryCeiling } from './memory-ceiling.js'
import { heartbeatInterval, startHeartbeat } from './watchdog.js'

/**
 * A worker: load every model, then listen. Loading first means a restarted worker takes no
 * connections until it can answer them.
 */
export async function runWorker(loaded: LoadedConfig, logger: Logger): Promise<void> {
  const { server, admin } = loaded.config
  const tracing = loaded.config.tracing.enabled ? await startTracing(loaded.config.tracing.serviceName) : undefined
  const service = createService(loaded, {
    logger,
    tracing,
    notify: (id) => send({ type: 'servekit:changed', model_id: id }),
    scrape: scrapeThroughPrimary,
    gatherMonitoring: cluster.isWorker ? gatherThroughPrimary : undefined,
  })

  // Signals and the primary's messages are handled from the start: a worker told to stop while it
  // is still loading has accepted nothing, so it simply exits.
  let listening = false
  let closing = false
  let memory: MemoryCeiling | undefined
  const shutdown = (reason: string): void => {
    if (closing) return
    closing = true
    memory?.stop()
    if (!listening) process.exit(0)
    logger.info({ reason }, 'worker draining')
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'worker shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('message', (m: PrimaryMessage) => {
    if (m?.type === 'servekit:metrics-collect') {
      void (service.metrics?.registry.getMetricsAsJSON() ?? Promise.resolve([])).then((metrics) => send({ type: 'servekit:metrics-report', id: m.id, metrics }))
    } else if (m?.type === 'servekit:metrics-response') {
      pendingScrapes.get(m.id)?.(m)
      pendingScrapes.delete(m.id)
    } else if (m?.type === 'servekit:monitoring-collect') {
      send({ type: 'servekit:monitoring-report', id: m.id, snapshots: service.monitor?.snapshot(m.query) ?? [] })
    } else if (m?.type === 'servekit:monitoring-response') {
      pendingGathers.get(m.id)?.(m.gathered)
      pendingGathers.delete(m.id)
    } else if (m?.type === 'servekit:shutdown') shutdown(m.reason ? `replaced (${m.reason})` : 'primary')
    else if (m?.type === 'servekit:reconcile') void service.registry.reconcile(m.model_id)
  })
  // Ctrl-C reaches every process in the group; drain instead of dying mid-request.
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  // SIGHUP asks the primary for a rolling restart; it orchestrates, so a worker ignores its own copy.
  process.on('SIGHUP', () => {})
  // If the primary dies, the IPC channel closes: do not linger as an orphan.
  process.on('disconnect', () => shutdown('primary gone'))

  await service.load()
  await service.app.listen({ port: server.port, host: server.host })
  // From here on connections can arrive: stopping means draining them.
  listening = true
  let adminAddress: string | null = null
  if (service.adminApp && admin.port !== undefined) {
    await service.adminApp.listen({ port: admin.port, host: admin.host })
    adminAddress = formatAddress(service.adminApp.server.address() as AddressInfo)
  }
  service.startPolling()
  // Armed only now: a long synchronous load at start-up is not a stuck event loop.
  if (server.watchdogMs > 0) startHeartbeat(() => send({ type: 'servekit:heartbeat' }), heartbeatInterval(server.watchdogMs))
  memory = watchMemory({
    maxRssMb: server.maxRssMb,
    onExceeded(rss) {
      logger.warn({ rss_bytes: rss, max_rss_mb: server.maxRssMb }, 'worker above its memory ceiling; asking to be replaced')
      send({ type: 'servekit:recycle', reason: 'memory', rss_bytes: rss })
    },
  })
  const addr = service.app.server.address() as AddressInfo
  const { enabled, threshold, minCount, intervalMs } = loaded.config.monitoring
  send({ type: 'servekit:listening', address: formatAddress(addr), port: addr.port, admin_address: adminAddress, monitoring: enabled ? { threshold, minCount, intervalMs } : null })
}

export function formatAddress(addr: AddressInfo): string {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `http://${host}:${addr.port}`
}

const pendingScrapes = new Map<number, (m: Extract<PrimaryMessage, { type: 'servekit:metrics-response' }>) => void>()
let scrapeIds = 0

/** One scrape shows the whole service: the primary sums every worker's metrics. */
function scrapeThroughPrimary(local: Metrics): Promise<{ text: string; contentType: string }> {
  if (!cluster.isWorker) return local.registry.metrics().then((text) => ({ text, contentType: local.registry.contentType }))
  const id = ++scrapeIds
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingScrapes.delete(id)
      reject(new ServekitError('internal_error', 'metrics: the primary did not answer in 10 s'))
    }, 10_000)
    pendingScrapes.set(id, (m) => {
      clearTimeout(timer)
      if (m.error) reject(new ServekitError('internal_error', `metrics: ${m.error}`))
      else resolve({ text: m.text, contentType: m.contentType })
    })
    send({ type: 'servekit:metrics-request', id })
  })
}

const pendingGathers = new Map<number, (g: GatheredSnapshots) => void>()
let gatherIds = 0

/** GET /models/:id/monitoring shows the whole service: the primary merges every worker's state. */
function gatherThroughPrimary(query: SnapshotQuery): Promise<GatheredSnapshots> {
  const id = ++gatherIds
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingGathers.delete(id)
      reject(new ServekitError('internal_error', 'monitoring: the primary did not answer in 10 s'))
    }, 10_000)
    pendingGathers.set(id, (g) => {
      clearTimeout(timer)
      resolve(g)
    })
    send({ type: 'servekit:monitoring-request', id, query })
  })
}

function send(message: WorkerMessage): void {
  // Once the primary is gone, send() would emit an error event that nothing handles.
  if (cluster.isWorker && process.send && process.connected) process.send(message)
}
