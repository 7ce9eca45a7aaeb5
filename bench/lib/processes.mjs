// What the bench scripts share about the processes they start and measure.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/**
 * CPU seconds (user + system) used so far by process `pid` and its children: a servekit primary
 * and its workers. On a machine shared with other work, throughput swings with the neighbours'
 * load; CPU time per request is the cost of the work itself, and steadier.
 */
export function processTreeCpuSeconds(pid) {
  let ticks = 0
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // After the command: state(0) ppid(1) … utime(11) stime(12)
      if (Number(d) === pid || Number(fields[1]) === pid) ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      /* exited */
    }
  }
  return ticks / CLK_TCK
}

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Keeps the servers a bench starts (each spawned `detached`, so in a process group of its own)
 * and kills their groups when the bench exits, however it exits (Ctrl-C included); `cleanup` then
 * runs, e.g. to remove temporary directories.
 */
export function trackServers(cleanup = () => {}) {
  const live = new Set()
  process.on('exit', () => {
    for (const p of live) {
      try {
        process.kill(-p.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    cleanup()
  })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))
  return {
    add(proc) {
      live.add(proc)
      proc.once('exit', () => live.delete(proc))
    },
  }
}
