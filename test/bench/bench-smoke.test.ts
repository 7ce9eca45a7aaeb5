import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/start-service.js'

// The bench harness in its smoke mode (bare node:http and servekit, `sum`, one second per run):
// proves `npm run bench` works end to end. Not a performance test: no figure is checked.
// wrk comes from Debian's package (.ci/run installs it); without it this test fails rather than skip.
const hasWrk = spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined
const dir = mkdtempSync(join(tmpdir(), 'servekit-bench-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** `npm run bench -- <args>`, which must exit 0 within 50 s: its stdout. */
const runBench = (args: string[]): Promise<string> => runScript('bench/run.mjs', args, 50_000)

/**
 * A bench script, which must exit 0 within `timeoutMs`: its stdout. Asynchronously: a test worker
 * blocked in spawnSync for long misses vitest's own calls ("Timeout calling onTaskUpdate").
 */
async function runScript(script: string, args: string[], timeoutMs: number): Promise<string> {
  const proc = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => proc.kill('SIGTERM'), timeoutMs)
  const [code] = (await once(proc, 'close')) as [number | null]
  clearTimeout(timer)
  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0)
  return stdout
}

describe('npm run bench -- --quick', () => {
  it('prints the table, writes the results JSON and leaves no process behind', async () => {
    expect(hasWrk, 'wrk is not installed: apt-get install -y wrk (.ci/run does this)').toBe(true)
    const out = join(dir, 'latest.json')
    const stdout = await runBench(['--quick', '--no-install', '--out', out])

    expect(stdout).toMatch(/model\s+server\s+scenario\s+req\/s/)
    expect(stdout).toMatch(/sum\s+bare\s+saturation c=32/)
    expect(stdout).toMatch(/sum\s+servekit\s+saturation c=32/)
    expect(stdout).toContain('RSS per worker after warm-up')

    const report = JSON.parse(readFileSync(out, 'utf8'))
    expect(report.settings.servers).toEqual(['bare', 'servekit'])
    const rows = report.results.map((r: any) => `${r.server} ${r.scenario}`)
    expect(rows).toEqual(['bare saturation', 'servekit saturation', 'bare fixed_rate', 'servekit fixed_rate'])
    for (const r of report.results) {
      expect(r.requests).toBeGreaterThan(0)
      expect(r.latency_ms.p99).toEqual(expect.any(Number))
      // Counted, not required to be zero: on a busy machine a one-second run can time out.
      expect(r.errors).toEqual({ non2xx: expect.any(Number), socket: expect.any(Number), timeout: expect.any(Number) })
    }
    const servekit = report.results.find((r: any) => r.server === 'servekit' && r.scenario === 'saturation')
    expect(servekit.ratio_to_bare.rps).toEqual(expect.any(Number))
    expect(report.memory.servekit.workers_mb).toHaveLength(2)

    // Every server it started is gone.
    const pids = [...stdout.matchAll(/listening on \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]))
    expect(pids).toHaveLength(2)
    for (const pid of pids) {
      expect(alive(pid)).toBe(false)
      expect(alive(-pid)).toBe(false) // its process group: the workers
    }
  }, 60_000)
})

describe('npm run bench -- --quick --paired', () => {
  it('serves every server at once, the Fastify floor among them, and reports the median of the rounds\' ratios', async () => {
    expect(hasWrk, 'wrk is not installed: apt-get install -y wrk (.ci/run does this)').toBe(true)
    const out = join(dir, 'paired.json')
    const stdout = await runBench(['--quick', '--paired', '--servers', 'bare,fastify,servekit', '--rates', '500', '--no-install', '--out', out])
    expect(stdout).toContain('paired: saturation with every server at once')

    const report = JSON.parse(readFileSync(out, 'utf8'))
    expect(report.settings).toMatchObject({ workers: 1, paired: true, pin: true, slices: 2, servers: ['bare', 'fastify', 'servekit'] })
    const saturation = report.results.filter((r: any) => r.scenario === 'saturation')
    expect(saturation.map((r: any) => r.server)).toEqual(['bare', 'fastify', 'servekit'])
    for (const r of saturation) {
      expect(r.slices).toHaveLength(2)
      expect(r.requests).toBeGreaterThan(0)
      if (r.server === 'bare') continue
      // The reported ratio is the median of the per-round ones (two rounds: their mean).
      const [a, b] = r.rps_ratio_rounds
      expect(r.rps_ratio_rounds).toEqual(r.slices.map((s: any, i: number) => Math.round((s.rps / saturation[0].slices[i].rps) * 1000) / 1000))
      expect(r.ratio_to_bare.rps).toBeCloseTo((a + b) / 2, 1)
    }
    expect(report.memory.fastify.workers_mb).toHaveLength(1)

    const pids = [...stdout.matchAll(/listening on \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]))
    expect(pids).toHaveLength(3)
    for (const pid of pids) {
      expect(alive(pid)).toBe(false)
      expect(alive(-pid)).toBe(false)
    }
  }, 60_000)
})

describe('npm run bench:instructions', () => {
  it('counts instructions per request of servers under callgrind, and names JavaScript functions in the kept profile', async () => {
    const hasValgrind = spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).error === undefined
    expect(hasValgrind, 'valgrind is not installed: apt-get install -y valgrind (.ci/run does this)').toBe(true)
    const out = join(dir, 'instructions.json')
    const keep = join(dir, 'profiles')
    const args = ['--servers', 'bare,servekit:on', '--models', 'sum', '--warmup', '200', '--requests', '60', '--rounds', '2', '--keep', keep, '--out', out]
    await runScript('bench/instructions.mjs', args, 170_000)
    const report = JSON.parse(readFileSync(out, 'utf8'))
    expect(report.results.map((r: any) => r.server)).toEqual(['bare', 'servekit:on'])
    for (const r of report.results) {
      expect(r.rounds).toHaveLength(2)
      // Tens of thousands of instructions at least: a request through Node's HTTP stack.
      expect(r.instructions_per_request).toBeGreaterThan(10_000)
    }
    // Rounds this short are dominated by one-off work (V8 compiling on the main thread under
    // --single-threaded, a collection): 250 k to 1.6 M instructions a request, either server. So
    // which server counts more is not a figure this run can give; the ratio must be of the two.
    const [bare, on] = report.results
    expect(bare.ratio_to_bare).toBeNull()
    expect(on.ratio_to_bare).toBe(Math.round((on.instructions_per_request / bare.instructions_per_request) * 100) / 100)
    // One profile kept per server and model (the median round's), with its table; no round left over.
    expect(readdirSync(keep).sort()).toEqual(['bare.sum.callgrind', 'bare.sum.callgrind.txt', 'servekit_on.sum.callgrind', 'servekit_on.sum.callgrind.txt'])
    const profile = readFileSync(join(keep, 'servekit_on.sum.callgrind.txt'), 'utf8')
    expect(profile).toMatch(/^\s+\d+ {2}JS:/m)
    // servekit's own functions, named from V8's perf map: the requests went through its /infer path.
    expect(profile).toMatch(/JS:\S* file:\/\/\/dist\/server\/infer-fast-path\.js/)
    expect(profile).toContain('llhttp')
    // The servers ran in directories of their own: V8's isolate logs are not left in the checkout.
    expect(readdirSync(ROOT).filter((f) => f.startsWith('isolate-'))).toEqual([])
    // No perf map left behind in /tmp by the servers it ran.
    for (const r of report.results) {
      expect(r.pid).toEqual(expect.any(Number))
      expect(existsSync(`/tmp/perf-${r.pid}.map`)).toBe(false)
    }
  }, 180_000)
})

describe('node bench/prediction-log-sink.mjs', () => {
  it('prints the cost per event for both bench models, after checking every event was written', async () => {
    const stdout = await runScript('bench/prediction-log-sink.mjs', ['--events', '3000', '--rounds', '1', '--dir', dir], 30_000)
    expect(stdout).toMatch(/^sum +parse \+ event [\d.]+ µs; with the JSONL prediction log [\d.]+ µs; the log's own cost -?[\d.]+ µs CPU per event/m)
    expect(stdout).toMatch(/^tabular +parse \+ event/m)
  })
})

describe('npm run bench:observability -- --quick', () => {
  it('measures off and on, reads the prediction log back, and stops both servers cleanly (exit 0)', async () => {
    expect(hasWrk, 'wrk is not installed: apt-get install -y wrk (.ci/run does this)').toBe(true)
    const out = join(dir, 'observability.json')
    const stdout = await runScript('bench/observability.mjs', ['--quick', '--out', out], 60_000)
    expect(stdout).toMatch(/model\s+variant\s+req\/s\s+vs off/)
    const report = JSON.parse(readFileSync(out, 'utf8'))
    expect(report.results.map((r: any) => `${r.model} ${r.variant}`)).toEqual(['sum off', 'sum on'])
    for (const r of report.results) expect(r.rps).toBeGreaterThan(0)
    // The `on` server's prediction log was read back (drops are counted, not required to be zero:
    // this is a smoke test of the harness, not of a figure).
    expect(report.prediction_log.written).toBeGreaterThan(0)
    expect(report.prediction_log).toEqual(expect.objectContaining({ dropped: expect.any(Number), failed: expect.any(Number) }))
    expect(Object.values(report.exit_codes)).toEqual([0, 0])
  }, 70_000)
})

describe('npm run bench:observability -- --quick --paired', () => {
  it('serves off and on at once, one worker each on one core, and measures both in every round', async () => {
    expect(hasWrk, 'wrk is not installed: apt-get install -y wrk (.ci/run does this)').toBe(true)
    const out = join(dir, 'observability-paired.json')
    await runScript('bench/observability.mjs', ['--quick', '--paired', '--workers', '1', '--threads', '1', '--connections', '8', '--out', out], 60_000)
    const report = JSON.parse(readFileSync(out, 'utf8'))
    expect(report.settings).toEqual(expect.objectContaining({ paired: true, workers: 1 }))
    expect(report.results.map((r: any) => `${r.model} ${r.variant}`)).toEqual(['sum off', 'sum on'])
    for (const r of report.results) {
      expect(r.runs).toHaveLength(1)
      expect(r.rps).toBeGreaterThan(0)
      expect(r.ratio_to_off).toEqual(expect.any(Number))
    }
    expect(Object.values(report.exit_codes)).toEqual([0, 0])
  }, 70_000)
})
