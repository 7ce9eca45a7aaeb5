import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

export interface RedisServer {
  readonly url: string
  readonly port: number
  /** Stops the server and removes its directory. */
  close(): Promise<void>
}

/**
 * A real redis-server (Debian's package; .ci/run installs it) on 127.0.0.1, in memory only (no RDB,
 * no AOF), working in a temporary directory. Redis cannot listen on port 0, so a free port is picked
 * and, should another process take it first, a new one is tried.
 */
export async function startRedisServer(): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    throw new Error('redis-server is not installed: apt-get install -y redis-server (.ci/run does this)')
  }
  const dir = await mkdtemp(join(tmpdir(), 'servekit-redis-'))
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    proc.stdout!.on('data', (d) => (output += d))
    proc.stderr!.on('data', (d) => (output += d))
    try {
      await waitForPing(port, proc)
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        async close() {
          await stop(proc)
          await rm(dir, { recursive: true, force: true })
        },
      }
    } catch (err) {
      await stop(proc)
      lastError = new Error(`redis-server on port ${port} did not start: ${(err as Error).message}\n${output}`)
    }
  }
  await rm(dir, { recursive: true, force: true })
  throw lastError
}


/** PING until PONG (the server is accepting commands), failing if the process exits or 10 s pass. */
async function waitForPing(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`exited with ${proc.exitCode ?? proc.signalCode}`)
    if (await ping(port)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('no PONG within 10 s')
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    let reply = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d) => {
      reply += d
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = once(proc, 'exit')
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}
