import cluster, { type Worker } from 'node:cluster'
import { Counter, Registry } from 'prom-client'
import type { Logger } from '../observe/logger.js'
import { createMetricsCollector } from './metrics-collector.js'
import { createMonitoringCollector, startClusterDrift } from '../observe/monitoring/cluster.js'
import type { DriftWatch } from '../observe/monitoring/drift-watch.js'
import { isWorkerMessage, type PrimaryMessage } from './messages.js'
import { createWatchdog } from './watchdog.js'

export interface PrimaryOptions {
  workers: number
  shutdownTimeoutMs: number
  /** Kill and replace a worker whose event loop has been silent this long; 0 turns it off. */
  watchdogMs: number
  /** A replacement worker (rolling restart, memory ceiling) that does not listen within this is stopped, and the worker it was to replace keeps serving. */
  startupTimeoutMs: number
  logger: Logger
}

/** The `reason` label of servekit_worker_restarts_total. */
const RESTART_REASONS = ['crash', 'watchdog', 'memory', 'rolling', 'startup'] as const
type RestartReason = (typeof RESTART_REASONS)[number]
/** A replacement on its way: it starts, listens, and only then is the worker it replaces drained. */
interface Replacement {
  old: Worker
  reason: 'memory' | 'rolling'
  done: (replaced: boolean) => void
}

/** Restart delays after a worker dies young: 0.1 s doubling to 5 s, reset once one lives 10 s. */
const MIN_RESTART_MS = 100
const MAX_RESTART_MS = 5_000
const HEALTHY_AFTER_MS = 10_000

/**
 * The primary forks the workers, restarts any that die, logs one listening line when all are up,
 * and on SIGTERM/SIGINT asks every worker to drain, exiting 0 once they have. It also kills workers
 * the watchdog finds stuck, and replaces workers one by one (new one listening before the old one
 * drains) on SIGHUP or when a worker passes its memory ceiling.
 */
export function runPrimary(options: PrimaryOptions): void {
  const { logger } = options
  const started = new Map<number, number>()
  const listening = new Set<number>()
  let announced = false
  let shuttingDown = false
  let restartDelay = MIN_RESTART_MS
  let shutdownFailed = false
  const aggregator = createMetricsCollector({
    logger,
    workers: () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && listening.has(w.id) && w.isConnected()),
  })
  // The primary serves no HTTP: its own metrics are appended to the workers' sum on each scrape.
  const registry = new Registry()
  const restarts = new Counter({
    name: 'servekit_worker_restarts_total',
    help: 'Workers replaced, by reason: crash (exited unexpectedly), watchdog (event loop blocked), memory (above server.maxRssMb), rolling (SIGHUP); startup counts replacements that failed to start (the old worker kept serving).',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of RESTART_REASONS) restarts.inc({ reason }, 0)
  /** New worker id -> the replacement it is. */
  const replacements = new Map<number, Replacement>()
  /** Old worker id -> why it was told to drain after its replacement listened. */
  const draining = new Map<number, Replacement>()
  const killedByWatchdog = new Set<number>()
  const watchdog =
    options.watchdogMs > 0
      ? createWatchdog({
          timeoutMs: options.watchdogMs,
          onSilent(id, silentMs) {
            const worker = cluster.workers?.[id]
            if (worker === undefined || worker.isDead()) return
            killedByWatchdog.add(id)
            logger.error({ worker_pid: worker.process.pid, silent_ms: silentMs, watchdog_ms: options.watchdogMs }, 'worker event loop blocked; killing it (watchdog)')
            worker.process.kill('SIGKILL')
          },
        })
      : undefined

  // Drift monitoring: each worker saw only its own requests; their stats are merged here. The gauge
  // and the threshold warnings start with the first worker's settings (the primary reads no config).
  const monitoring = createMonitoringCollector({ workers: () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && listening.has(w.id) && w.isConnected()) })
  let drift: DriftWatch | undefined

  const isReplaced = (old: Worker): boolean => draining.has(old.id) || [...replacements.values()].some((r) => r.old === old)

  /** Forks a replacement for `old`; resolves true once `old` has drained and exited, false if the replacement failed to start. */
  const replace = (old: Worker, reason: Replacement['reason']): Promise<boolean> => {
    if (shuttingDown || old.isDead() || isReplaced(old)) return Promise.resolve(!shuttingDown)
    return new Promise((done) => {
      const fresh = fork()
      replacements.set(fresh.id, { old, reason, done })
      logger.info({ worker_pid: old.process.pid, reason }, 'starting a replacement worker')
      // A replacement that hangs while loading (a store that does not answer, a load that never
      // resolves) must not hold the rolling restart forever: stop it; its exit keeps the old worker.
      const timer = setTimeout(() => {
        if (!replacements.has(fresh.id) || fresh.isDead()) return
        logger.error({ worker_pid: fresh.process.pid, startup_timeout_ms: options.startupTimeoutMs, replacing_pid: old.process.pid }, 'replacement worker did not listen in time; stopping it')
        fresh.process.kill('SIGKILL')
      }, options.startupTimeoutMs)
      timer.unref()
      fresh.once('exit', () => clearTimeout(timer))
    })
  }

  const fork = (): Worker => {
    const worker = cluster.fork()
    started.set(worker.id, Date.now())
    worker.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return
      if (m.type === 'servekit:heartbeat') {
        watchdog?.beat(worker.id)
        return
      }
      if (m.type === 'servekit:recycle') {
        logger.warn({ worker_pid: worker.process.pid, rss_bytes: m.rss_bytes }, 'worker above its memory ceiling; replacing it')
        void replace(worker, 'memory')
        return
      }
      if (m.type === 'servekit:monitoring-report') {
        monitoring.report(m)
        return
      }
      if (m.type === 'servekit:monitoring-request') {
        void monitoring.collect(m.query).then((gathered) => {
          if (worker.isConnected()) worker.send({ type: 'servekit:monitoring-response', id: m.id, gathered } satisfies PrimaryMessage)
        })
        return
      }
      if (m.type === 'servekit:metrics-report') {
        aggregator.report(worker, m.id, m.metrics as never)
        return
      }
      if (m.type === 'servekit:metrics-request') {
        const reply = (r: Omit<Extract<PrimaryMessage, { type: 'servekit:metrics-response' }>, 'type' | 'id'>) => {
          if (worker.isConnected()) worker.send({ type: 'servekit:metrics-response', id: m.id, ...r } satisfies PrimaryMessage)
        }
        Promise.all([aggregator.metrics(), registry.metrics()]).then(
          ([workers, own]) => reply({ text: workers + own, contentType: aggregator.contentType }),
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
      if (m.type !== 'servekit:listening') return
      listening.add(worker.id)
      // Armed from the listening message, not the first heartbeat: a request could block the loop before that.
      watchdog?.beat(worker.id)
      if (announced) logger.info({ worker_pid: worker.process.pid }, 'worker listening')
      if (m.monitoring && drift === undefined) drift = startClusterDrift(m.monitoring, { gather: monitoring.collect, logger, registry })
      const replacement = replacements.get(worker.id)
      if (replacement) {
        // The new worker takes connections now; the old one finishes what it has and exits.
        replacements.delete(worker.id)
        const { old } = replacement
        if (old.isDead()) replacement.done(true)
        else {
          draining.set(old.id, replacement)
          old.send({ type: 'servekit:shutdown', reason: replacement.reason } satisfies PrimaryMessage)
        }
      }
      if (!announced && listening.size >= options.workers) {
        announced = true
        logger.info({ address: m.address, port: m.port, admin_address: m.admin_address, workers: options.workers }, `servekit listening on ${m.address}`)
      }
    })
    return worker
  }

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id)
    watchdog?.forget(worker.id)
    const lived = Date.now() - (started.get(worker.id) ?? 0)
    started.delete(worker.id)
    const byWatchdog = killedByWatchdog.delete(worker.id)
    const drained = draining.get(worker.id)
    draining.delete(worker.id)
    const replacement = replacements.get(worker.id)
    replacements.delete(worker.id)
    if (shuttingDown) {
      if (code !== 0 || signal !== null) shutdownFailed = true
      if (Object.keys(cluster.workers ?? {}).length === 0) finish(shutdownFailed ? 1 : 0)
      return
    }
    if (drained) {
      // Replaced on purpose: its successor already listens.
      restarts.inc({ reason: byWatchdog ? 'watchdog' : drained.reason })
      logger.info({ worker_pid: worker.process.pid, code, signal, reason: drained.reason }, 'worker replaced')
      drained.done(true)
      return
    }
    if (replacement && !replacement.old.isDead()) {
      // A replacement died (or was stopped) before listening: the worker it was to replace keeps serving.
      restarts.inc({ reason: 'startup' })
      logger.error({ worker_pid: worker.process.pid, code, signal, reason: 'startup', replacing_pid: replacement.old.process.pid }, 'replacement worker failed to start; keeping the old one')
      replacement.done(false)
      return
    }
    const reason: RestartReason = byWatchdog ? 'watchdog' : 'crash'
    restarts.inc({ reason })
    if ([...replacements.values()].some((r) => r.old === worker)) {
      // Its replacement is already starting and takes its place.
      logger.error({ worker_pid: worker.process.pid, code, signal, reason }, 'worker died while being replaced')
      return
    }
    replacement?.done(false)
    restartDelay = lived > HEALTHY_AFTER_MS ? MIN_RESTART_MS : Math.min(restartDelay * 2, MAX_RESTART_MS)
    logger.error({ worker_pid: worker.process.pid, code, signal, reason, restart_in_ms: restartDelay }, 'worker died; restarting it')
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

  let rolling = false
  /** SIGHUP: replace every worker, one at a time; capacity never drops below the configured count. */
  const rollingRestart = async (): Promise<void> => {
    if (rolling || shuttingDown) {
      logger.warn({}, 'rolling restart already in progress (or shutting down); SIGHUP ignored')
      return
    }
    rolling = true
    const current = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead() && !isReplaced(w) && !replacements.has(w.id))
    logger.info({ workers: current.length }, 'rolling restart: replacing workers one at a time')
    let replaced = 0
    for (const worker of current) {
      if (!(await replace(worker, 'rolling'))) break
      replaced++
    }
    if (replaced === current.length) logger.info({ replaced }, 'rolling restart finished')
    else logger.error({ replaced, workers: current.length }, 'rolling restart stopped: a replacement failed to start (or shutting down)')
    rolling = false
  }
  process.on('SIGHUP', () => void rollingRestart())

  const finish = (code: number): void => {
    logger.info({ code }, 'servekit stopped')
    logger.flush()
    process.exit(code)
  }

  for (let i = 0; i < options.workers; i++) fork()
}
