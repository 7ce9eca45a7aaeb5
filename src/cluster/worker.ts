import cluster from 'node:cluster'
import type { AddressInfo } from 'node:net'
import type { LoadedConfig } from '../config/load-config.js'
import type { Logger } from '../observe/logger.js'
import { createService } from '../service.js'
import { reportToPrimary, type Metrics } from '../observe/metrics.js'
import { ServekitError } from '../errors.js'
import type { PrimaryMessage, WorkerMessage } from './messages.js'

/**
 * A worker: load every model, then listen. Loading first means a restarted worker takes no
 * connections until it can answer them.
 */
export async function runWorker(loaded: LoadedConfig, logger: Logger): Promise<void> {
  const { server, admin } = loaded.config
  const service = createService(loaded, { logger, notify: (id) => send({ type: 'servekit:changed', model_id: id }), scrape: scrapeThroughPrimary })
  if (service.metrics) reportToPrimary(service.metrics.registry)
  await service.load()
  await service.app.listen({ port: server.port, host: server.host })
  let adminAddress: string | null = null
  if (service.adminApp && admin.port !== undefined) {
    await service.adminApp.listen({ port: admin.port, host: admin.host })
    adminAddress = formatAddress(service.adminApp.server.address() as AddressInfo)
  }
  service.startPolling()
  const addr = service.app.server.address() as AddressInfo
  send({ type: 'servekit:listening', address: formatAddress(addr), port: addr.port, admin_address: adminAddress })

  let closing = false
  const shutdown = (reason: string): void => {
    if (closing) return
    closing = true
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
    if (m?.type === 'servekit:metrics-response') {
      pendingScrapes.get(m.id)?.(m)
      pendingScrapes.delete(m.id)
    } else if (m?.type === 'servekit:shutdown') shutdown('primary')
    else if (m?.type === 'servekit:reconcile') void service.registry.reconcile(m.model_id)
  })
  // Ctrl-C reaches every process in the group; drain instead of dying mid-request.
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  // If the primary dies, the IPC channel closes: do not linger as an orphan.
  process.on('disconnect', () => shutdown('primary gone'))
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

function send(message: WorkerMessage): void {
  if (cluster.isWorker && process.send) process.send(message)
}
