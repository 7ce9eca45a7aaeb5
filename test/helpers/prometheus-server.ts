import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

export interface PrometheusServer {
  readonly url: string
  /** Runs an instant PromQL query through the HTTP API. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>
  close(): Promise<void>
}

/**
 * A real Prometheus (Debian's package; .ci/run installs it) on 127.0.0.1, scraping `target`
 * (host:port) every second, with its data in a temporary directory.
 */
export async function startPrometheus(target: string): Promise<PrometheusServer> {
  if (spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    throw new Error('prometheus is not installed: apt-get install -y prometheus (.ci/run does this)')
  }
  const dir = await mkdtemp(join(tmpdir(), 'servekit-prometheus-'))
  const config = join(dir, 'prometheus.yml')
  await writeFile(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: servekit\n    static_configs:\n      - targets: ['${target}']\n`)
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const proc = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    proc.stdout!.on('data', (d) => (output += d))
    proc.stderr!.on('data', (d) => (output += d))
    const url = `http://127.0.0.1:${port}`
    try {
      await waitForReady(url, proc)
      return {
        url,
        async query(promql) {
          const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)
          const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
          if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`)
          return body.data.result
        },
        async close() {
          await stop(proc)
          await rm(dir, { recursive: true, force: true })
        },
      }
    } catch (err) {
      await stop(proc)
      lastError = new Error(`prometheus on port ${port} did not start: ${(err as Error).message}\n${output.slice(-2000)}`)
    }
  }
  await rm(dir, { recursive: true, force: true })
  throw lastError
}

async function waitForReady(url: string, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}`)
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('not ready after 30 s')
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = once(proc, 'exit')
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}
