import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/servekit.js', import.meta.url))
export const FIXTURE_CONFIG = fileURLToPath(new URL('../fixtures/service/servekit.config.ts', import.meta.url))

export interface LogLine {
  level: number
  msg: string
  role?: string
  pid: number
  [key: string]: unknown
}

export interface RunningService {
  readonly url: string
  readonly port: number
  readonly proc: ChildProcess
  /** JSON log lines seen so far on stdout. */
  readonly logs: LogLine[]
  /** Lines seen so far on stderr. */
  readonly stderr: string[]
  /** Resolves with the first log line matching `pred` (already seen or future). */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  /** Resolves once `count` stderr lines match `pred`. */
  waitForStderr(pred: (line: string) => boolean, count?: number, timeoutMs?: number): Promise<void>
  /** SIGTERM, then the exit code (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>
}

/**
 * Spawns the real `servekit serve` on 127.0.0.1 with port 0, reads the bound address from the
 * primary's listening line, and waits for it (which comes after every worker has loaded).
 */
export async function startService(opts: { config?: string; workers?: number; args?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunningService> {
  const args = [BIN, 'serve', '--config', opts.config ?? FIXTURE_CONFIG, '--port', '0', '--host', '127.0.0.1', '--workers', String(opts.workers ?? 2), ...(opts.args ?? [])]
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: LogLine[] = []
  const stderr: string[] = []
  const listeners = new Set<() => void>()
  const notify = (): void => listeners.forEach((l) => l())
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine)
      notify()
    } catch {
      stderr.push(line)
    }
  })
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    stderr.push(line)
    notify()
  })
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>

  const waitFor = <T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const tick = (): void => {
        const found = check()
        if (found !== undefined) {
          cleanup()
          resolve(found)
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${what}; stderr:\n${stderr.slice(-20).join('\n')}\nlogs:\n${logs.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`))
      }, timeoutMs)
      const onExit = (): void => {
        cleanup()
        reject(new Error(`servekit exited while waiting for ${what}; stderr:\n${stderr.slice(-20).join('\n')}`))
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        listeners.delete(tick)
        proc.off('exit', onExit)
      }
      listeners.add(tick)
      proc.once('exit', onExit)
      tick()
    })

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 20_000) => waitFor(() => logs.find(pred), 'a log line', timeoutMs)
  const waitForStderr = async (pred: (line: string) => boolean, count = 1, timeoutMs = 20_000) => {
    await waitFor(() => (stderr.filter(pred).length >= count ? true : undefined), `${count} matching stderr lines`, timeoutMs)
  }

  let listening: LogLine
  try {
    listening = await waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('servekit listening'), opts.timeoutMs ?? 30_000)
  } catch (err) {
    proc.kill('SIGKILL')
    throw err
  }
  const port = listening['port'] as number
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    logs,
    stderr,
    waitForLog,
    waitForStderr,
    async stop(timeoutMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
      const [code] = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** POSTs JSON and returns status, headers and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), ...(signal ? { signal } : {}) })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
}
