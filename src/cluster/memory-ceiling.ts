/**
 * The memory ceiling. Model code that leaks (a cache without a bound, a native library holding
 * buffers) would grow a worker until the kernel's OOM killer ends it mid-request. Instead, each
 * worker reads its resident set size every second; above `server.maxRssMb` it asks the primary to
 * replace it. The primary forks a replacement, waits until it listens, then tells the old worker
 * to drain (finish in-flight requests, flush, exit 0): no accepted request is lost.
 */

/** How often a worker reads its RSS (`process.memoryUsage.rss()`, one read of /proc on Linux: cheap at 1 Hz). */
export const MEMORY_CHECK_MS = 1_000
/** While waiting to be replaced, ask again this often (the first replacement may have failed to start). */
export const RECYCLE_RETRY_MS = 30_000

export interface MemoryCeiling {
  stop(): void
}

/**
 * Calls `onExceeded(rssBytes)` when RSS is above `maxRssMb`, then at most every `retryMs` while it
 * stays above (the worker keeps serving meanwhile). `maxRssMb` 0 watches nothing.
 */
export function watchMemory(options: {
  maxRssMb: number
  onExceeded: (rssBytes: number) => void
  intervalMs?: number
  retryMs?: number
  rss?: () => number
}): MemoryCeiling {
  if (options.maxRssMb === 0) return { stop() {} }
  const limit = options.maxRssMb * 1024 * 1024
  const rss = options.rss ?? (() => process.memoryUsage.rss())
  const retryMs = options.retryMs ?? RECYCLE_RETRY_MS
  let askedAt = -Infinity
  const timer = setInterval(() => {
    const bytes = rss()
    const now = Date.now()
    if (bytes > limit && now - askedAt >= retryMs) {
      askedAt = now
      options.onExceeded(bytes)
    }
  }, options.intervalMs ?? MEMORY_CHECK_MS)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
