import { afterEach, describe, expect, it, vi } from 'vitest'
import { watchMemory } from '../../src/cluster/memory-ceiling.js'
import { createWatchdog, heartbeatInterval } from '../../src/cluster/watchdog.js'

// The two timers behind the watchdog and the memory ceiling, on a fake clock. The processes they
// act on are tested black-box in worker-faults.test.ts.

afterEach(() => {
  vi.useRealTimers()
})

describe('createWatchdog', () => {
  it('reports a worker once it has been silent longer than the timeout, then forgets it', () => {
    vi.useFakeTimers()
    const silent: number[] = []
    const dog = createWatchdog({ timeoutMs: 1000, onSilent: (id) => silent.push(id) })
    dog.beat(1)
    dog.beat(2)
    for (let t = 0; t < 3000; t += 250) {
      vi.advanceTimersByTime(250)
      dog.beat(2) // worker 2 keeps beating
    }
    expect(silent).toEqual([1])
    dog.stop()
  })

  it('never reports a worker it has not heard from (not armed), nor one it was told to forget', () => {
    vi.useFakeTimers()
    const silent: number[] = []
    const dog = createWatchdog({ timeoutMs: 500, onSilent: (id) => silent.push(id) })
    dog.beat(3)
    dog.forget(3)
    vi.advanceTimersByTime(5000)
    expect(silent).toEqual([])
    dog.stop()
  })

  it('beats several times per period, never slower than every 500 ms', () => {
    expect(heartbeatInterval(5000)).toBe(500)
    expect(heartbeatInterval(1000)).toBe(250)
    expect(heartbeatInterval(200)).toBe(50)
  })
})

describe('watchMemory', () => {
  it('asks to be replaced above the ceiling, then again only after the retry interval', () => {
    vi.useFakeTimers()
    let rss = 100 * 1024 * 1024
    const asked: number[] = []
    const ceiling = watchMemory({ maxRssMb: 200, intervalMs: 100, retryMs: 1000, rss: () => rss, onExceeded: (b) => asked.push(b) })
    vi.advanceTimersByTime(500)
    expect(asked).toEqual([])
    rss = 250 * 1024 * 1024
    vi.advanceTimersByTime(900)
    expect(asked).toEqual([rss])
    vi.advanceTimersByTime(1000)
    expect(asked).toHaveLength(2)
    ceiling.stop()
    vi.advanceTimersByTime(5000)
    expect(asked).toHaveLength(2)
  })

  it('watches nothing when the ceiling is 0', () => {
    vi.useFakeTimers()
    const asked: number[] = []
    watchMemory({ maxRssMb: 0, intervalMs: 10, rss: () => Number.MAX_SAFE_INTEGER, onExceeded: (b) => asked.push(b) })
    vi.advanceTimersByTime(1000)
    expect(asked).toEqual([])
  })
})
