/**
 * The event-loop watchdog. A worker stuck in synchronous code (a model's `while (true) {}`) can
 * answer nothing, and no timeout inside it can fire: only another process can notice. So each
 * worker sends a heartbeat from a timer, which a blocked event loop cannot run, and the primary
 * kills a worker that has been silent for `server.watchdogMs`. The primary restarts it like any
 * other dead worker.
 */

/** Time between heartbeats: several per watchdog period, so one late timer is never fatal. */
export const heartbeatInterval = (watchdogMs: number): number => Math.max(50, Math.min(500, Math.floor(watchdogMs / 4)))

/**
 * Worker side: sends a heartbeat every `intervalMs` from a timer. Started once the worker listens,
 * so a long synchronous model load at start-up is not mistaken for a stuck worker.
 */
export function startHeartbeat(send: () => void, intervalMs: number): () => void {
  const timer = setInterval(send, intervalMs)
  // The heartbeat must not keep a draining worker alive.
  timer.unref()
  return () => clearInterval(timer)
}

export interface Watchdog {
  /** A heartbeat (or the listening message) from a worker; the first one arms the watchdog for it. */
  beat(workerId: number): void
  /** Stops watching a worker (it exited, or is being replaced on purpose). */
  forget(workerId: number): void
  stop(): void
}

/**
 * Primary side: calls `onSilent` once for a worker whose last heartbeat is older than `timeoutMs`,
 * then stops watching it. Checks a few times per period; cost is one Map walk per check.
 */
export function createWatchdog(options: { timeoutMs: number; onSilent: (workerId: number, silentMs: number) => void }): Watchdog {
  const lastBeat = new Map<number, number>()
  const timer = setInterval(
    () => {
      const now = Date.now()
      for (const [id, at] of lastBeat) {
        if (now - at > options.timeoutMs) {
          lastBeat.delete(id)
          options.onSilent(id, now - at)
        }
      }
    },
    Math.max(50, Math.floor(options.timeoutMs / 4)),
  )
  timer.unref()
  return {
    beat: (id) => void lastBeat.set(id, Date.now()),
    forget: (id) => void lastBeat.delete(id),
    stop: () => clearInterval(timer),
  }
}
