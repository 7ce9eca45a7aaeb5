import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/run-cli.js'
import { ROOT } from '../helpers/start-service.js'

const QUICKSTART = join(ROOT, 'examples/quickstart/servekit.config.ts')

/** The real bin, never rejecting (test/helpers/run-cli.ts). */
const servekit = (...args: string[]) => runCli(args)

describe('servekit --help', () => {
  it('lists every command with what it does', async () => {
    const { code, stdout } = await servekit('--help')
    expect(code).toBe(0)
    expect(stdout).toMatch(/serve \[options\]\s+Serve the models/)
    expect(stdout).toMatch(/predict \[options\] <model_id> <features>\s+Load one model/)
  })

  it('explains the serve flags', async () => {
    const { stdout } = await servekit('serve', '--help')
    for (const flag of ['--config', '--port', '--host', '--workers']) expect(stdout).toContain(flag)
  })
})

describe('servekit predict', () => {
  it('prints one prediction as JSON without a server', async () => {
    const { code, stdout } = await servekit('predict', 'shipping_eta', '{"origin_zone":"A","destination_zone":"C","express":true}', '--config', QUICKSTART)
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ output: { days: 3 }, model_id: 'shipping_eta', model_version: '1' })
  })

  it('exits 1 with the error code when the features fail the schema', async () => {
    const { code, stdout, stderr } = await servekit('predict', 'churn', '{"tenure_months": -1}', '--config', QUICKSTART)
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/^servekit: invalid_request: features.tenure_months/m)
  })

  it('exits 1 for an unknown model, listing the known ones', async () => {
    const { code, stderr } = await servekit('predict', 'nope', '{}', '--config', QUICKSTART)
    expect(code).toBe(1)
    expect(stderr).toContain('servekit: model_not_found: model "nope" not found')
    expect(stderr).toContain('known: churn, shipping_eta')
  })

  it('exits 1 for features that are not JSON', async () => {
    const { code, stderr } = await servekit('predict', 'churn', '{tenure', '--config', QUICKSTART)
    expect(code).toBe(1)
    expect(stderr).toContain('servekit: invalid_json: features is not valid JSON')
  })
})

describe('servekit serve', () => {
  it('exits non-zero naming the file and the bad field when the config is invalid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'servekit-cli-'))
    try {
      const file = join(dir, 'servekit.config.ts')
      await writeFile(file, `export default { models: { m: { module: './m.ts' } }, server: { workers: -1 } }\n`)
      const { code, stderr } = await servekit('serve', '--config', file)
      expect(code).toBe(1)
      expect(stderr).toContain(`servekit: config_invalid: ${file}: invalid config`)
      expect(stderr).toContain('server.workers')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('rejects a non-numeric --port with a usage error', async () => {
    const { code, stderr } = await servekit('serve', '--port', 'http')
    expect(code).not.toBe(0)
    expect(stderr).toContain("option '-p, --port <port>' argument 'http' is invalid")
  })
})

describe('npm start', () => {
  it('serves the quickstart and passes flags through to serve', async () => {
    // The quickstart logs its predictions next to its config, as it does for a user: the files this
    // run adds are checked, then removed (a developer's own are left).
    const logs = join(ROOT, 'examples/quickstart/prediction-logs')
    const before = new Set(existsSync(logs) ? readdirSync(logs) : [])
    // Its own process group, so teardown can stop npm and the servekit processes under it together.
    const proc = spawn('npm', ['start', '--silent', '--', '--port', '0', '--host', '127.0.0.1', '--workers', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    try {
      const listening = await new Promise<{ port: number; workers: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('npm start did not log a listening line')), 30_000)
        createInterface({ input: proc.stdout }).on('line', (line) => {
          // Access-log lines share stdout and carry no msg.
          const log = JSON.parse(line) as { msg?: string; port: number; workers: number }
          if (log.msg?.startsWith('servekit listening')) {
            clearTimeout(timer)
            resolve(log)
          }
        })
      })
      expect(listening.workers).toBe(1)
      const res = await fetch(`http://127.0.0.1:${listening.port}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model_id: 'churn', features: { tenure_months: 48, monthly_charges: 40, support_calls: 0, contract: 'two_year' } }),
      })
      expect(res.status).toBe(200)
      expect(((await res.json()) as any).output.will_churn).toBe(false)
    } finally {
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      process.kill(-proc.pid!, 'SIGTERM')
      await exited
      // npm may exit before servekit's primary and worker have flushed and stopped: wait for the group.
      await groupGone(proc.pid!, 15_000)
    }
    const added = (existsSync(logs) ? readdirSync(logs) : []).filter((f) => !before.has(f))
    try {
      // SIGTERM flushed the one prediction's event.
      const events = added.flatMap((f) => readFileSync(join(logs, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { model_id: string; features: unknown }))
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({ model_id: 'churn', features: { tenure_months: 48, contract: 'two_year' } })
    } finally {
      for (const f of added) rmSync(join(logs, f), { force: true })
    }
  })
})

/** Resolves once no process of the group `pgid` is left (throws after `ms`). */
async function groupGone(pgid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      process.kill(-pgid, 0)
    } catch {
      return
    }
    if (Date.now() > deadline) throw new Error(`processes of group ${pgid} still running after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
