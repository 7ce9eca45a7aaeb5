#!/usr/bin/env node
// servekit's benchmark: `npm run bench` (flags after `--`, e.g. `npm run bench -- --workers 1`).
//
// Starts, on 127.0.0.1 and with the same worker count each, servekit serving the bench models
// (bench/service: `sum` and `tabular`), a bare node:http + node:cluster server with the same
// contract (the ceiling), and, when Debian's python3-flask and gunicorn are installed, Flask on
// Gunicorn. Then, per model: saturation with wrk (fixed connections), fixed request rates with an
// open-loop generator (bench/open-loop.mjs), and RSS per worker after warm-up. Prints one table and
// writes bench/results/latest.json; every servekit figure also as a ratio to the bare server in
// the same run. See docs/performance.md.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, median } from './lib/processes.mjs'

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH)
const BODY = { sum: join(BENCH, 'service/requests/sum.json'), tabular: join(BENCH, 'service/requests/tabular.json') }
const PYTHON = '/usr/bin/python3'
const FLASK_THREADS = 4
/** What the servers write (servekit's prediction log): removed when the bench exits, however it exits. */
let TMP

const USAGE = `usage: npm run bench -- [options]
  --workers N         worker processes per server (default 2)
  --duration S        saturation run per server and model, seconds (default 10)
  --connections N     wrk connections for saturation (default 32)
  --threads N         wrk threads (default 2)
  --rates R,R         fixed request rates, req/s (default 1000,3000)
  --rate-duration S   each fixed-rate run, seconds (default 4)
  --warmup S          wrk warm-up per server and model before measuring, seconds (default 2)
  --slices N          split each measurement into N slices, servers alternating (default 2)
  --servers LIST      bare,servekit,flask (the default; flask is skipped when not installed), and
                      servekit-lean: servekit with metrics, access log, prediction log and drift
                      monitoring off; fastify: Fastify alone with servekit's envelope schemas and
                      headers, none of servekit's own work (bench/servers/fastify.mjs)
  --models LIST       sum,tabular (default: both)
  --quick             smoke mode: bare and servekit, sum, one second per run
  --out FILE          results JSON (default bench/results/latest.json)
  --cpu-prof DIR      run servekit under node --cpu-prof: profiles in DIR/servekit/ (one per process)
  --pin               servers on CPU 0, load generators on CPU 1 (taskset): the latency of a server
                      that does not share its core with the load generator; use with --workers 1
  --paired            saturation with every server at once: one worker each, all on CPU 0, each
                      driven by its own wrk on CPU 1, in --slices rounds (default 5); the ratio to
                      bare is the median of the rounds' ratios. The steadiest ratio on a shared
                      machine. Implies --pin and --workers 1; wrk -t1 -c16 unless given
  --no-install        do not apt-get install wrk when it is missing`

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    threads: { type: 'string' },
    rates: { type: 'string' },
    'rate-duration': { type: 'string' },
    warmup: { type: 'string' },
    slices: { type: 'string' },
    servers: { type: 'string' },
    models: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(BENCH, 'results/latest.json') },
    'cpu-prof': { type: 'string' },
    'no-install': { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    paired: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (flags.help) {
  console.log(USAGE)
  process.exit(0)
}

const quick = flags.quick
const paired = flags.paired
const settings = {
  workers: posInt(flags.workers ?? (paired ? '1' : '2'), 'workers'),
  saturation: {
    tool: 'wrk',
    threads: posInt(flags.threads ?? (paired ? '1' : '2'), 'threads'),
    connections: posInt(flags.connections ?? (paired ? '16' : '32'), 'connections'),
    duration_s: num(flags.duration ?? (quick ? (paired ? '2' : '1') : paired ? '15' : '10'), 'duration'),
    timeout_s: 2,
  },
  fixed_rate: { tool: 'bench/open-loop.mjs', rates: (flags.rates ?? (quick ? '1000' : '1000,3000')).split(',').map((r) => posInt(r, 'rates')), duration_s: num(flags['rate-duration'] ?? (quick ? '1' : '4'), 'rate-duration') },
  warmup_s: num(flags.warmup ?? (quick ? '1' : '2'), 'warmup'),
  // Each measurement is cut into slices run A B C, C B A, …: background load that drifts during
  // the run then weighs on every server alike.
  slices: posInt(flags.slices ?? (paired ? (quick ? '2' : '5') : quick ? '1' : '2'), 'slices'),
  servers: (flags.servers ?? (quick ? 'bare,servekit' : 'bare,servekit,flask')).split(','),
  models: (flags.models ?? (quick ? 'sum' : 'sum,tabular')).split(','),
  pin: flags.pin || paired,
  paired,
}
if (settings.pin && os.availableParallelism() < 2) usage(`--${paired ? 'paired' : 'pin'} needs two cores`)
if (paired && settings.workers !== 1) usage('--paired serves one worker per server (every server shares CPU 0): leave out --workers or give 1')
for (const s of settings.servers) if (!['bare', 'fastify', 'servekit', 'servekit-lean', 'flask'].includes(s)) usage(`unknown server "${s}"`)
for (const m of settings.models) if (!(m in BODY)) usage(`unknown model "${m}"`)
if (!settings.servers.includes('bare')) usage('the bare server is the reference for every ratio: keep it in --servers')

// ---------------------------------------------------------------------------------------------
// Processes: every child is tracked; servers run in their own process group so that a server and
// all its workers can be stopped together, whatever happens to this script.

const live = new Set()

function track(proc, group) {
  const entry = { proc, group }
  live.add(entry)
  proc.once('exit', () => live.delete(entry))
  return proc
}

function killAll(signal) {
  for (const { proc, group } of live) {
    try {
      if (group) process.kill(-proc.pid, signal)
      else proc.kill(signal)
    } catch {
      /* already gone */
    }
  }
}

process.on('exit', () => {
  killAll('SIGKILL')
  if (TMP !== undefined) rmSync(TMP, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}: stopping every server`)
    killAll('SIGKILL')
    process.exit(130)
  })
}

/** True while any process of the group lives. */
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

async function stopServer(server) {
  const { proc } = server
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM')
    const timer = setTimeout(() => groupAlive(proc.pid) && process.kill(-proc.pid, 'SIGKILL'), 10_000)
    await once(proc, 'exit')
    clearTimeout(timer)
  }
  // The primary is gone; its workers must be too.
  for (let i = 0; i < 50 && groupAlive(proc.pid); i++) await sleep(100)
  if (groupAlive(proc.pid)) {
    console.error(`bench: ${server.name}: processes left after stop; killing its group`)
    process.kill(-proc.pid, 'SIGKILL')
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

/**
 * Spawns a server and resolves once `readyFromLine` finds its port in a line of its output. After
 * that its output (access logs and all) is only drained, keeping the last few kilobytes for the
 * error message if the server dies: reading it costs this process next to nothing, and the server
 * pays for its logging what it would pay writing to a container runtime's pipe.
 */
function startProcess(name, cmd, args, env, readyFromLine, timeoutMs = 30_000) {
  ;[cmd, args] = pinned(0, cmd, args)
  const proc = track(spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true }), true)
  let tail = ''
  let ready = false
  const server = { name, proc, output: () => tail }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start in ${timeoutMs / 1000} s`), timeoutMs)
    const fail = (why) => {
      clearTimeout(timer)
      try {
        process.kill(-proc.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
      reject(new Error(`${name} ${why}; its last output:\n${tail.trimEnd()}`))
    }
    let pending = ''
    const onData = (chunk) => {
      tail = (tail + chunk).slice(-4096)
      if (ready) return
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const port = readyFromLine(line.trim())
        if (port !== undefined) {
          ready = true
          clearTimeout(timer)
          proc.off('exit', onExit)
          return resolve(Object.assign(server, { port, url: `http://127.0.0.1:${port}/infer` }))
        }
      }
    }
    const onExit = (code) => fail(`exited with code ${code}`)
    proc.once('exit', onExit)
    proc.stdout.setEncoding('utf8').on('data', onData)
    proc.stderr.setEncoding('utf8').on('data', onData)
  })
}

function jsonLineField(line, msgPrefix) {
  if (!line.startsWith('{')) return undefined
  try {
    const o = JSON.parse(line)
    return typeof o.msg === 'string' && o.msg.startsWith(msgPrefix) && typeof o.port === 'number' ? o.port : undefined
  } catch {
    return undefined
  }
}

const starters = {
  bare: () =>
    startProcess('bare', process.execPath, [join(BENCH, 'servers/bare.mjs'), '--port', '0', '--host', '127.0.0.1', '--workers', String(settings.workers)], {}, (l) => jsonLineField(l, 'bare listening')),
  fastify: () => {
    if (!existsSync(join(ROOT, 'dist/server/schemas.js'))) throw new Error('servekit is not built (fastify uses its schemas): run `npm run build` first')
    return startProcess('fastify', process.execPath, [join(BENCH, 'servers/fastify.mjs'), '--port', '0', '--host', '127.0.0.1', '--workers', String(settings.workers)], {}, (l) => jsonLineField(l, 'fastify listening'))
  },

  servekit: () => startServekit('servekit', {}),
  'servekit-lean': () => startServekit('servekit-lean', { SERVEKIT_BENCH_LEAN: '1' }),

  flask: async () => {
    const port = await freePort()
    // As many Gunicorn workers as the other servers have, threaded (gthread) so that connections are
    // kept alive like the others': here twice the throughput of the default sync workers, which close
    // every connection. No access log (Gunicorn's default).
    const server = await startProcess(
      'flask',
      'gunicorn',
      ['--workers', String(settings.workers), '--worker-class', 'gthread', '--threads', String(FLASK_THREADS), '--bind', `127.0.0.1:${port}`, '--chdir', join(BENCH, 'servers'), '--log-level', 'info', 'flask_app:app'],
      {},
      (l) => (l.includes(`Listening at: http://127.0.0.1:${port}`) ? port : undefined),
    )
    // Listening comes before the workers have imported the app: wait until one answers.
    for (let i = 0; i < 100; i++) {
      if ((await post(server.url, BODY.sum).catch(() => undefined))?.status === 200) return server
      await sleep(100)
    }
    throw new Error('flask: no worker answered within 10 s')
  },
}

/** servekit on the bench service; its prediction log goes to this run's temporary directory. */
function startServekit(name, env) {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('servekit is not built: run `npm run build` first')
  // --cpu-prof is refused in NODE_OPTIONS; as a node flag, cluster workers inherit it (execArgv).
  const nodeFlags = []
  if (flags['cpu-prof']) {
    const dir = join(flags['cpu-prof'], name)
    mkdirSync(dir, { recursive: true })
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`)
  }
  return startProcess(
    name,
    process.execPath,
    [...nodeFlags, join(ROOT, 'bin/servekit.js'), 'serve', '--config', join(BENCH, 'service/servekit.config.ts'), '--port', '0', '--host', '127.0.0.1', '--workers', String(settings.workers)],
    { SERVEKIT_BENCH_TMP: join(TMP, name), ...env },
    (l) => jsonLineField(l, 'servekit listening'),
  )
}

function flaskMissing() {
  const missing = []
  if (spawnSync(PYTHON, ['-c', 'import flask'], { stdio: 'ignore' }).status !== 0) missing.push('python3-flask')
  if (spawnSync('gunicorn', ['--version'], { stdio: 'ignore' }).status !== 0) missing.push('gunicorn')
  return missing
}

/** wrk, installed with apt-get when missing (as root); a clear message otherwise. */
function ensureWrk() {
  if (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined) return
  const hint = 'wrk (the HTTP load generator) is not installed; install the Debian package: apt-get install -y wrk'
  if (flags['no-install'] || process.getuid?.() !== 0 || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    console.error(`bench: ${hint}`)
    process.exit(2)
  }
  console.log('bench: wrk is missing; installing it: apt-get install -y wrk')
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'inherit' })
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit' })
    r = spawnSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'inherit' })
  }
  if (r.status !== 0 || spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    console.error(`bench: could not install wrk. ${hint}`)
    process.exit(2)
  }
}

// ---------------------------------------------------------------------------------------------
// Load generators

/** Closed loop at saturation: wrk with a fixed number of connections. */
async function runWrk(server, model, durationS) {
  const url = server.url
  const { threads, connections, timeout_s } = settings.saturation
  durationS = Math.max(1, Math.round(durationS)) // wrk takes whole seconds
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${durationS}s`, '--timeout', `${timeout_s}s`, '-s', join(BENCH, 'wrk/infer.lua'), url]
  const cpuBefore = cpuSeconds(server)
  const out = await runChild('wrk', args, { BENCH_BODY_FILE: BODY[model] }, (durationS + 15) * 1000)
  const cpu = cpuSeconds(server) - cpuBefore
  assertAlive(server)
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (line === undefined) throw new Error(`wrk printed no result:\n${out}`)
  const r = JSON.parse(line.slice('BENCH_JSON '.length))
  const us = (x) => round3(x / 1000)
  const e = r.errors
  return {
    requests: r.requests,
    duration_s: r.duration_us / 1e6,
    rps: Math.round(r.requests / (r.duration_us / 1e6)),
    cpu_us_per_request: r.requests > 0 ? round1((cpu * 1e6) / r.requests) : null,
    latency_ms: { p50: us(r.latency_us.p50), p90: us(r.latency_us.p90), p99: us(r.latency_us.p99), p999: us(r.latency_us.p999), max: us(r.latency_us.max), mean: us(r.latency_us.mean) },
    errors: { non2xx: e.status, socket: e.connect + e.read + e.write, timeout: e.timeout },
  }
}

/** Open loop at a fixed rate: bench/open-loop.mjs in its own process. */
async function runOpenLoop(server, model, rate, durationS) {
  const args = [join(BENCH, 'open-loop.mjs'), '--url', server.url, '--body-file', BODY[model], '--rate', String(rate), '--duration', String(durationS), '--samples']
  const out = await runChild(process.execPath, args, {}, (durationS + 15) * 1000)
  assertAlive(server)
  return JSON.parse(out.trim().split('\n').at(-1))
}

function assertAlive(server) {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
    throw new Error(`${server.name} exited during the run (${server.proc.signalCode ?? server.proc.exitCode}); its last output:\n${server.output().trimEnd()}`)
  }
}

/** --pin: `taskset -c <cpu>` in front (taskset execs the command: the pid stays the server's). */
function pinned(cpu, cmd, args) {
  return settings.pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]
}

function runChild(cmd, args, env, timeoutMs) {
  ;[cmd, args] = pinned(1, cmd, args)
  const proc = track(spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }), false)
  let out = ''
  let err = ''
  proc.stdout.on('data', (d) => (out += d))
  proc.stderr.on('data', (d) => (err += d))
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  // 'close', not 'exit': the output may still be unread when the process has exited.
  return once(proc, 'close').then(([code, signal]) => {
    clearTimeout(timer)
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${signal ?? code}):\n${err || out}`)
    return out
  })
}

// ---------------------------------------------------------------------------------------------
// Checks and measurements

/** Response headers every server must send alike: the content type and servekit's security headers. */
const SAME_HEADERS = ['content-type', 'x-content-type-options', 'cache-control', 'x-frame-options', 'content-security-policy', 'referrer-policy']

/** One request per model: the same status, output, headers and request-id echo on every server. */
async function checkContract(server, model) {
  const res = await post(server.url, BODY[model])
  const body = JSON.parse(res.text)
  if (res.status !== 200) throw new Error(`${server.name} ${model}: status ${res.status}: ${res.text}`)
  if (body.model_id !== model || typeof body.model_version !== 'string' || body.request_id !== res.headers['x-request-id']) {
    throw new Error(`${server.name} ${model}: response does not follow the contract: ${res.text}`)
  }
  return JSON.stringify({ output: body.output, headers: SAME_HEADERS.map((h) => `${h}: ${res.headers[h]}`) })
}

/** RSS of a server's workers (the primary's children) and of the primary, in MB. */
function memory(server) {
  const [pid, ...kids] = server.pids
  const rss = (p) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
    return m ? round1(Number(m[1]) / 1024) : null
  }
  const workers = kids.map(rss).filter((x) => x !== null)
  return { workers_mb: workers, per_worker_mb: workers.length ? round1(workers.reduce((a, b) => a + b, 0) / workers.length) : null, primary_mb: rss(pid) }
}

/**
 * The server's pids: the primary, then its workers: the children running the same executable
 * (node for node:cluster, python for Gunicorn), which leaves out helpers such as tsx's esbuild.
 */
function serverPids(server) {
  const pid = server.proc.pid
  const exe = (p) => {
    try {
      return readlinkSync(`/proc/${p}/exe`)
    } catch {
      return undefined
    }
  }
  const own = exe(pid)
  const pids = [pid]
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid && exe(d) === own) pids.push(Number(d))
    } catch {
      /* exited */
    }
  }
  return pids
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100

/** CPU seconds (user + system) used so far by the server's processes. */
function cpuSeconds(server) {
  let ticks = 0
  for (const p of server.pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(f[11]) + Number(f[12])
    } catch {
      /* exited */
    }
  }
  return ticks / TICKS
}

// ---------------------------------------------------------------------------------------------
// Main

const results = []
const notes = []
const startedAt = new Date()
const t0 = performance.now()

const plannedS = plan()
if (plannedS > 180) notes.push(`planned run time ${plannedS} s is over 3 minutes (longer durations were asked for)`)
// Bounded in time whatever happens: the plan plus a margin, then everything is killed.
setTimeout(() => {
  console.error(`bench: still running after ${plannedS + 60} s: aborting and stopping every server`)
  killAll('SIGKILL')
  process.exit(3)
}, (plannedS + 60) * 1000).unref()

function plan() {
  const n = settings.servers.length * settings.models.length
  const K = settings.slices
  // --paired: the servers' saturation runs overlap.
  const saturation = settings.paired ? settings.models.length * (settings.saturation.duration_s + 0.5 * K) : n * (settings.saturation.duration_s + 0.2 * K)
  return Math.ceil(8 + saturation + n * (settings.warmup_s + settings.fixed_rate.rates.length * (settings.fixed_rate.duration_s + 0.5 * K) + 1))
}

async function main() {
  TMP = mkdtempSync(join(os.tmpdir(), 'servekit-bench-'))
  ensureWrk()
  if (settings.servers.includes('flask')) {
    const missing = flaskMissing()
    if (missing.length > 0) {
      const note = `Flask/Gunicorn skipped: ${missing.join(' and ')} not installed (apt-get install -y python3-flask gunicorn)`
      console.log(`bench: ${note}`)
      notes.push(note)
      settings.servers = settings.servers.filter((s) => s !== 'flask')
    }
  }
  const loadBefore = os.loadavg()
  console.log(`bench: ${settings.servers.join(', ')} × ${settings.models.join(', ')}, ${settings.workers} workers each; about ${plan()} s`)
  if (loadBefore[0] > 0.5) console.log(`bench: note: load average is ${loadBefore[0].toFixed(2)} before starting; other work on this machine skews every figure`)

  const servers = {}
  for (const name of settings.servers) {
    const s = await starters[name]()
    servers[name] = s
    console.log(`bench: ${name} listening on ${s.url} (pid ${s.proc.pid})`)
  }

  // Same answers everywhere, or the comparison means nothing.
  for (const model of settings.models) {
    const ref = await checkContract(servers.bare, model)
    for (const name of settings.servers) {
      const out = await checkContract(servers[name], model)
      if (out !== ref) throw new Error(`${name} ${model}: output or headers ${out} differ from the bare server's ${ref}`)
    }
  }

  // Warm up every server on every model (JIT, connection pools), then read RSS.
  for (const name of settings.servers) servers[name].pids = serverPids(servers[name])
  for (const name of settings.servers) for (const model of settings.models) await runWrk(servers[name], model, settings.warmup_s)
  const mem = {}
  for (const name of settings.servers) mem[name] = memory(servers[name])

  // Scenario by scenario; within one, slices with the servers in turn (A B C, C B A, …), so that
  // each comparison is measured close in time.
  const order = (slice) => (slice % 2 === 0 ? settings.servers : [...settings.servers].reverse())
  const K = settings.slices
  for (const model of settings.models) {
    const sat = Object.fromEntries(settings.servers.map((n) => [n, []]))
    for (let k = 0; k < K; k++) {
      if (paired) {
        // Every server at once, sharing CPU 0 (each its own process group, so an equal share).
        const round = await Promise.all(settings.servers.map((name) => runWrk(servers[name], model, settings.saturation.duration_s / K)))
        settings.servers.forEach((name, i) => sat[name].push(round[i]))
      } else {
        for (const name of order(k)) sat[name].push(await runWrk(servers[name], model, settings.saturation.duration_s / K))
      }
    }
    for (const name of settings.servers) progress(pushResult({ server: name, model, scenario: 'saturation', connections: settings.saturation.connections, ...mergeWrk(sat[name]), ...(paired ? pairedRatio(sat[name], sat.bare) : {}) }))
    for (const rate of settings.fixed_rate.rates) {
      const runs = Object.fromEntries(settings.servers.map((n) => [n, []]))
      for (let k = 0; k < K; k++) for (const name of order(k)) runs[name].push(await runOpenLoop(servers[name], model, rate, settings.fixed_rate.duration_s / K))
      for (const name of settings.servers) progress(pushResult({ server: name, model, scenario: 'fixed_rate', rate, ...mergeOpenLoop(runs[name]) }))
    }
  }

  for (const name of settings.servers) await stopServer(servers[name])

  addRatios(results)
  const memory_ = Object.fromEntries(
    Object.entries(mem).map(([name, m]) => [name, { ...m, ratio_to_bare: name === 'bare' || !m.per_worker_mb ? null : round2(m.per_worker_mb / mem.bare.per_worker_mb) }]),
  )
  const targets = evaluateTargets(results)
  const report = {
    started_at: startedAt.toISOString(),
    duration_s: round1((performance.now() - t0) / 1000),
    machine: { cpus: os.availableParallelism(), cpu_model: os.cpus()[0]?.model ?? null, node: process.version, platform: `${os.platform()} ${os.release()}`, load_avg_before: loadBefore.map(round2), load_avg_after: os.loadavg().map(round2) },
    settings,
    memory: memory_,
    results,
    targets,
    notes,
  }
  mkdirSync(dirname(flags.out), { recursive: true })
  writeFileSync(flags.out, JSON.stringify(report, null, 2) + '\n')
  console.log('\n' + table(report))
  console.log(`\nwrote ${relative(process.cwd(), flags.out) || flags.out}`)
}

function pushResult(r) {
  results.push(r)
  return r
}

/**
 * Saturation slices: throughput from all requests over all slices; latency percentiles are the
 * worst slice's (wrk gives percentiles, not samples, so slices cannot be merged exactly).
 */
function mergeWrk(slices) {
  const requests = slices.reduce((a, r) => a + r.requests, 0)
  const duration = slices.reduce((a, r) => a + r.duration_s, 0)
  const worst = (k) => Math.max(...slices.map((r) => r.latency_ms[k]))
  const sum = (k) => slices.reduce((a, r) => a + r.errors[k], 0)
  const cpu = slices.reduce((a, r) => a + (r.cpu_us_per_request ?? 0) * r.requests, 0)
  return {
    requests,
    duration_s: round2(duration),
    rps: Math.round(requests / duration),
    latency_ms: { p50: worst('p50'), p90: worst('p90'), p99: worst('p99'), p999: worst('p999'), max: worst('max') },
    errors: { non2xx: sum('non2xx'), socket: sum('socket'), timeout: sum('timeout') },
    cpu_us_per_request: requests > 0 ? round1(cpu / requests) : null,
    slices: slices.map((r) => ({ rps: r.rps, latency_ms: r.latency_ms, cpu_us_per_request: r.cpu_us_per_request })),
  }
}

/** Fixed-rate slices: every latency sample merged, so the percentiles are exact. */
function mergeOpenLoop(slices) {
  const merge = (k) => {
    const all = new Float64Array(slices.reduce((a, r) => a + r.samples_us[k].length, 0))
    let i = 0
    for (const r of slices) for (const x of r.samples_us[k]) all[i++] = x / 1000
    return all.sort()
  }
  const lat = merge('latency')
  const fromSend = merge('from_send')
  const sum = (k) => slices.reduce((a, r) => a + r.errors[k], 0)
  const requests = slices.reduce((a, r) => a + r.completed, 0)
  return {
    requests,
    rps: Math.round(slices.reduce((a, r) => a + r.achieved_rps, 0) / slices.length),
    latency_ms: { p50: pctl(lat, 50), p90: pctl(lat, 90), p99: pctl(lat, 99), p999: pctl(lat, 99.9), max: lat.length ? lat[lat.length - 1] : null },
    latency_from_send_ms: { p50: pctl(fromSend, 50), p99: pctl(fromSend, 99), p999: pctl(fromSend, 99.9) },
    generator_lag_ms: { p99: Math.max(...slices.map((r) => r.send_lag_ms.p99 ?? 0)), max: Math.max(...slices.map((r) => r.send_lag_ms.max ?? 0)) },
    errors: { non2xx: sum('non2xx'), socket: sum('socket'), timeout: sum('timeout') },
  }
}

/**
 * --paired: the throughput ratio to bare of each round (measured over the same seconds), and their
 * median, which `addRatios` reports: the machine's speed drifts between rounds more than servers differ.
 */
function pairedRatio(slices, bare) {
  const perRound = slices.map((r, i) => r.rps / bare[i].rps)
  return { rps_ratio_rounds: perRound.map(round3), rps_ratio_median: round3(median(perRound)) }
}

function pctl(sorted, p) {
  if (sorted.length === 0) return null
  return round3(sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))])
}

function progress(r) {
  const what = r.scenario === 'saturation' ? `saturation c=${r.connections}` : `${r.rate} req/s`
  console.log(`bench: ${r.model.padEnd(8)} ${r.server.padEnd(13)} ${what.padEnd(16)} ${fmtInt(r.rps).padStart(7)} req/s  p99 ${fmt(r.latency_ms.p99)} ms  errors ${errorCount(r)}`)
}

function addRatios(rows) {
  const key = (r) => `${r.model}/${r.scenario}/${r.rate ?? ''}`
  const bare = new Map(rows.filter((r) => r.server === 'bare').map((r) => [key(r), r]))
  for (const r of rows) {
    const b = bare.get(key(r))
    if (r.server === 'bare' || b === undefined) {
      r.ratio_to_bare = null
      continue
    }
    const q = (x, y) => (x == null || !y ? null : round2(x / y))
    r.ratio_to_bare = { rps: r.rps_ratio_median !== undefined ? round2(r.rps_ratio_median) : q(r.rps, b.rps), p50: q(r.latency_ms.p50, b.latency_ms.p50), p99: q(r.latency_ms.p99, b.latency_ms.p99), p999: q(r.latency_ms.p999, b.latency_ms.p999) }
  }
}

const errorCount = (r) => r.errors.non2xx + r.errors.socket + r.errors.timeout

function evaluateTargets(rows) {
  const find = (model, scenario, rate, server = 'servekit') => rows.find((r) => r.server === server && r.model === model && r.scenario === scenario && (rate === undefined || r.rate === rate))
  const out = []
  const add = (name, value, op, limit, unit) => {
    if (value == null) return
    const met = op === '>=' ? value >= limit : value <= limit
    out.push({ name, value, target: `${op} ${limit}${unit}`, met, by: met ? null : round2(op === '>=' ? limit - value : value - limit) })
  }
  add('sum saturation throughput, servekit / bare', find('sum', 'saturation')?.ratio_to_bare?.rps, '>=', 0.8, '')
  // The serving path alone, when it ran: what the target says of servekit without its observability.
  add('sum saturation throughput, servekit-lean / bare', find('sum', 'saturation', undefined, 'servekit-lean')?.ratio_to_bare?.rps, '>=', 0.8, '')
  add('sum p99 at 1000 req/s (ms)', find('sum', 'fixed_rate', 1000)?.latency_ms.p99, '<=', 1, ' ms')
  add('tabular p99 at 1000 req/s (ms)', find('tabular', 'fixed_rate', 1000)?.latency_ms.p99, '<=', 1.5, ' ms')
  add('sum p99.9 at 1000 req/s (ms)', find('sum', 'fixed_rate', 1000)?.latency_ms.p999, '<=', 5, ' ms')
  add('tabular p99.9 at 1000 req/s (ms)', find('tabular', 'fixed_rate', 1000)?.latency_ms.p999, '<=', 5, ' ms')
  const sk = rows.filter((r) => r.server === 'servekit')
  if (sk.length > 0) add('servekit non-2xx + socket errors + timeouts, all runs', sk.reduce((s, r) => s + errorCount(r), 0), '<=', 0, '')
  return out
}

// ---------------------------------------------------------------------------------------------
// Output

function table(report) {
  const s = report.settings
  const head = [
    `servekit bench — ${report.machine.cpus} cores (${report.machine.cpu_model}), node ${report.machine.node}, load average before ${report.machine.load_avg_before[0]}`,
    `every server: ${s.workers} workers on 127.0.0.1${s.pin ? ' (servers on CPU 0, load generators on CPU 1)' : ''}; saturation: wrk -t${s.saturation.threads} -c${s.saturation.connections}, ${s.saturation.duration_s} s; fixed rate: open loop, ${s.fixed_rate.duration_s} s per rate, latency from the scheduled send`,
    s.paired
      ? `paired: saturation with every server at once, sharing CPU 0, in ${s.slices} rounds; ×bare is the median of the rounds' ratios; fixed rates one server at a time`
      : s.slices > 1
        ? `each measurement in ${s.slices} slices with the servers alternating; saturation percentiles are the worst slice's`
        : '',
    '',
  ]
  const cols = ['model', 'server', 'scenario', 'req/s', '×bare', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 ×bare', 'errors', 'CPU µs/req']
  const rows = report.results.map((r) => [
    r.model,
    r.server,
    r.scenario === 'saturation' ? `saturation c=${r.connections}` : `${r.rate} req/s`,
    fmtInt(r.rps),
    r.scenario === 'saturation' && r.ratio_to_bare ? `${r.ratio_to_bare.rps.toFixed(2)}` : '',
    fmt(r.latency_ms.p50),
    fmt(r.latency_ms.p99),
    fmt(r.latency_ms.p999),
    r.ratio_to_bare?.p99 != null ? r.ratio_to_bare.p99.toFixed(2) : '',
    String(errorCount(r)),
    r.cpu_us_per_request != null ? fmt(r.cpu_us_per_request) : '',
  ])
  const right = new Set([3, 4, 5, 6, 7, 8, 9, 10])
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  const out = [...head.filter((l, i) => l !== '' || i === head.length - 1), line(cols), line(widths.map((w) => '-'.repeat(w)))]
  let prev
  for (const [i, r] of rows.entries()) {
    const group = `${report.results[i].model}/${report.results[i].scenario}/${report.results[i].rate ?? ''}`
    if (prev !== undefined && group !== prev) out.push('')
    prev = group
    out.push(line(r))
  }
  out.push('', 'RSS per worker after warm-up (MB):')
  for (const [name, m] of Object.entries(report.memory)) {
    out.push(`  ${name.padEnd(14)} ${fmt(m.per_worker_mb).padStart(6)}${m.ratio_to_bare != null ? `  (${m.ratio_to_bare.toFixed(2)}× bare)` : ''}   workers ${m.workers_mb.join(', ')}; primary ${m.primary_mb}`)
  }
  if (report.targets.length > 0) {
    out.push('', 'targets (servekit):')
    for (const t of report.targets) out.push(`  ${t.met ? 'met   ' : 'MISSED'} ${t.name}: ${t.value} (target ${t.target}${t.met ? '' : `; missed by ${t.by}`})`)
  }
  for (const n of report.notes) out.push(`note: ${n}`)
  return out.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function post(url, bodyFile) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: readFileSync(bodyFile), signal: AbortSignal.timeout(5000) })
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}
function posInt(v, name) {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer`)
  return n
}
function num(v, name) {
  const n = Number(v)
  if (!(n > 0)) usage(`--${name} must be a positive number`)
  return n
}
function usage(msg) {
  console.error(`bench: ${msg}\n${USAGE}`)
  process.exit(2)
}
const round1 = (x) => Math.round(x * 10) / 10
const round2 = (x) => Math.round(x * 100) / 100
const round3 = (x) => Math.round(x * 1000) / 1000
const fmt = (x) => (x == null ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
const fmtInt = (x) => (x == null ? '-' : Math.round(x).toLocaleString('en-US'))

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench: failed: ${err instanceof Error ? err.message : String(err)}`)
    killAll('SIGKILL')
    process.exit(1)
  },
)
