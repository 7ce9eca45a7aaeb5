// End to end: for every template, `servekit init` a repository into a temp directory, install it
// (servekit from this checkout's `npm pack` tarball, everything else from the npm registry), and run
// what its users and its CI run: typecheck, `npm test` (servekit test + its own vitest tests),
// `servekit test --update`, then serve it the way the Dockerfile does and call /infer.
// Bounded: every command has a timeout, and the whole file stays under 5 minutes.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEMPLATES } from '../../src/cli/init/templates.js'
import { BIN, ROOT } from '../helpers/start-service.js'

const PACK_TIMEOUT_MS = 20_000
/** Per template; the first also fills the npm cache if it is cold. 20 + 120 + 2 * 80 = 300 s. */
const FIRST_TIMEOUT_MS = 120_000
const NEXT_TIMEOUT_MS = 80_000

/**
 * The environment of the generated repository's commands: none of this run's npm or vitest
 * variables (a nested `npm test` must not think it runs inside ours), nor this checkout's bins.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_ENV$|NODE_OPTIONS$|TEST$|INIT_CWD$)/i.test(key)) continue
    env[key] = value
  }
  env['PATH'] = (process.env['PATH'] ?? '').split(delimiter).filter((p) => !p.startsWith(ROOT)).join(delimiter)
  env['ONNXRUNTIME_NODE_INSTALL'] = 'skip'
  env['NO_COLOR'] = '1'
  return env
}

interface Run {
  stdout: string
  stderr: string
  ms: number
}

/** Runs a command to completion; rejects with its output when it fails or outlives `timeoutMs`. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed after ${Date.now() - started} ms: ${err.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
      else resolve({ stdout, stderr, ms: Date.now() - started })
    })
  })
}

let work: string
let tarball: string
const timings: string[] = []

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'servekit-init-e2e-'))
  // dist/ is already built (npm test builds first); --ignore-scripts keeps pack from rebuilding it.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT, PACK_TIMEOUT_MS)
  tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename)
  timings.push(`npm pack ${packed.ms} ms`)
}, PACK_TIMEOUT_MS)

afterAll(async () => {
  if (timings.length > 0) process.stderr.write(`init e2e timings:\n  ${timings.join('\n  ')}\n`)
  if (work) await rm(work, { recursive: true, force: true })
})

/** Serves the repository as its Dockerfile does (node + servekit's bin), POSTs one case to /infer, stops it. */
async function serveAndInfer(dir: string, modelId: string, features: unknown): Promise<{ status: number; body: any; exitCode: number | null }> {
  const proc = spawn(process.execPath, [join(dir, 'node_modules/servekit/bin/servekit.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--workers', '1'], {
    cwd: dir,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stderr: string[] = []
  createInterface({ input: proc.stderr! }).on('line', (l) => stderr.push(l))
  const exited = once(proc, 'exit') as Promise<[number | null]>
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 30 s; stderr:\n${stderr.join('\n')}`)), 30_000)
      proc.once('exit', (code) => reject(new Error(`servekit serve exited with ${code}; stderr:\n${stderr.join('\n')}`)))
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        try {
          const log = JSON.parse(line) as { msg?: string; port?: number }
          if (log.msg?.startsWith('servekit listening') && typeof log.port === 'number') {
            clearTimeout(timer)
            resolve(log.port)
          }
        } catch {
          // not a log line
        }
      })
    })
    const res = await fetch(`http://127.0.0.1:${port}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model_id: modelId, features }) })
    const body = await res.json()
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
    const [exitCode] = await exited
    clearTimeout(timer)
    return { status: res.status, body, exitCode }
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  }
}

describe('servekit init, end to end', () => {
  for (const [index, { name: model, modelId }] of TEMPLATES.entries()) {
    const budget = index === 0 ? FIRST_TIMEOUT_MS : NEXT_TIMEOUT_MS
    it(`--model ${model}: installs, passes its own npm test and servekit test, and serves /infer`, async () => {
      const name = `e2e-${model}`
      const dir = join(work, name)
      const steps: string[] = []
      const step = async (label: string, cmd: string, args: string[], cwd = dir): Promise<Run> => {
        const r = await run(cmd, args, cwd, budget)
        steps.push(`${label} ${(r.ms / 1000).toFixed(1)} s`)
        return r
      }

      await step('init', process.execPath, [BIN, 'init', dir, '--name', name, '--team', 'e2e-team', '--model', model, '--org', 'acme', '--servekit', tarball], work)
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))
      expect(pkg.dependencies.servekit).toBe(`file:${tarball}`)

      await step('npm install', 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'], dir)
      await step('typecheck', 'npm', ['run', 'typecheck'])

      // npm test = servekit test (the stored expectations) && vitest run (the repo's own service tests).
      const test = await step('npm test', 'npm', ['test'])
      expect(test.stdout).toMatch(/passed: 1 model, \d+ cases/)
      expect(test.stdout).toMatch(/Tests\s+\d+ passed \(\d+\)/)

      // The committed expectations are exactly what servekit records: --update leaves them alone.
      const storedPath = join(dir, 'testdata', `${modelId}.json`)
      const stored = await readFile(storedPath, 'utf8')
      await step('servekit test --update', 'npx', ['servekit', 'test', '--update'])
      expect(await readFile(storedPath, 'utf8')).toBe(stored)

      const firstCase = (JSON.parse(stored) as { cases: { features: unknown; expected: unknown }[] }).cases[0]!
      const started = Date.now()
      const served = await serveAndInfer(dir, modelId, firstCase.features)
      steps.push(`serve + /infer + SIGTERM ${((Date.now() - started) / 1000).toFixed(1)} s`)
      expect(served.status).toBe(200)
      expect(served.body).toMatchObject({ model_id: modelId, model_version: '1' })
      expect(served.body.output).toEqual(firstCase.expected)
      expect(served.exitCode).toBe(0)
      timings.push(`${model}: ${steps.join(', ')}`)
    }, budget)
  }
})
