#!/usr/bin/env node
// Instructions per request: `npm run bench:instructions` (flags after `--`; needs valgrind).
//
// Each server runs in one process under valgrind's callgrind, with instrumentation off while it
// starts and warms up. Then instrumentation is turned on (callgrind_control), a fixed number of
// requests is sent, and the instructions the server executed in that window are divided by the
// requests: user-space instructions per request, from its JavaScript, the runtime, Node's C++ and
// libc (the kernel's share is not counted). Unlike time, the count hardly depends on what else the
// machine is doing, so two builds or two settings can be told apart by a percent or two on a busy
// shared machine, where throughput runs move by ±5% or more. See docs/performance.md.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from './lib/processes.mjs'
import { observabilityVariants } from './lib/variants.mjs'

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH)
const USAGE = `usage: npm run bench:instructions -- [options]
  --servers LIST   bare,fastify,servekit-lean,servekit (the default); servekit:VARIANT for one of
                   bench/observability.mjs's settings (off, on, logs_only, prediction_log_only,
                   metrics_only, ...) or servekit:/path/to/a/config.mjs; any servekit one with
                   @CHECKOUT serves another checkout's build, e.g. servekit:on@/tmp/main,servekit:on
                   to compare two builds
  --models LIST    sum,tabular (default: both)
  --warmup N       requests before counting, to let V8 optimise (default 4000)
  --requests N     requests counted per round (default 2000)
  --rounds N       counted rounds per server and model; the median is reported (default 3)
  --concurrency N  requests in flight (default 8)
  --cache-sim      also count misses of valgrind's simulated data caches (about twice as slow)
  --keep DIR       keep each server and model's median counted round's callgrind profile in DIR (the
                   lower of the middle two for an even number of rounds), and beside it a .txt of
                   instructions per request by function, JavaScript included (named from V8's
                   --perf-basic-prof map)
  --out FILE       results JSON (default bench/results/instructions.json)`
const { values: flags } = parseArgs({
  options: {
    servers: { type: 'string', default: 'bare,fastify,servekit-lean,servekit' },
    models: { type: 'string', default: 'sum,tabular' },
    warmup: { type: 'string', default: '4000' },
    requests: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    'cache-sim': { type: 'boolean', default: false },
    keep: { type: 'string' },
    out: { type: 'string', default: join(BENCH, 'results/instructions.json') },
    help: { type: 'boolean', default: false },
  },
})
if (flags.help) {
  console.log(USAGE)
  process.exit(0)
}
const settings = {
  servers: flags.servers.split(','),
  models: flags.models.split(','),
  warmup: Number(flags.warmup),
  requests: Number(flags.requests),
  rounds: Number(flags.rounds),
  concurrency: Number(flags.concurrency),
}
const tmp = mkdtempSync(join(os.tmpdir(), 'servekit-bench-instr-'))
const live = new Set()
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))
const VARIANTS = observabilityVariants(tmp)
/** A server's name (`servekit:on@/some/checkout`) as a file name. */
const fileName = (name) => name.replace(/[^\w-]/g, '_')

/** How to start a server named on the command line (`servekit:on@/other/checkout` and the like). */
function serverSpec(name) {
  if (name === 'bare') return { script: 'servers/bare.mjs', args: ['--workers', '0'] }
  if (name === 'fastify') return { script: 'servers/fastify.mjs', args: ['--workers', '0'] }
  const [what, checkout] = name.split('@')
  const [kind, variant] = what.split(':')
  const dist = checkout === undefined ? [] : ['--dist', checkout]
  if (checkout !== undefined && !existsSync(join(checkout, 'dist/index.js'))) fail(`${name}: no build in ${checkout} (dist/index.js)`)
  if (kind === 'servekit' && variant === undefined) return { script: 'servers/servekit-inprocess.mjs', args: dist }
  if (kind === 'servekit-lean' && variant === undefined) return { script: 'servers/servekit-inprocess.mjs', args: dist, env: { SERVEKIT_BENCH_LEAN: '1' } }
  // A config file of one's own: servekit:/path/to/servekit.config.mjs
  if (kind === 'servekit' && variant !== undefined && variant.includes('/')) return { script: 'servers/servekit-inprocess.mjs', args: ['--config', variant, ...dist] }
  if (kind === 'servekit' && variant in VARIANTS) {
    const config = join(tmp, `${fileName(name)}.config.mjs`)
    writeFileSync(config, `export default ${JSON.stringify(VARIANTS[variant])}\n`)
    return { script: 'servers/servekit-inprocess.mjs', args: ['--config', config, ...dist] }
  }
  fail(`unknown server "${name}" (bare, fastify, servekit, servekit-lean, servekit:/a/config.mjs, servekit:VARIANT with VARIANT one of ${Object.keys(VARIANTS).join(', ')})`)
}
const SERVERS = Object.fromEntries(settings.servers.map((name) => [name, serverSpec(name)]))
for (const m of settings.models) if (!['sum', 'tabular'].includes(m)) fail(`unknown model "${m}"`)
for (const k of ['warmup', 'requests', 'rounds', 'concurrency']) if (!(Number.isInteger(settings[k]) && settings[k] > 0)) fail(`--${k} must be a positive integer`)
if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).error !== undefined) fail('valgrind is not installed: apt-get install -y valgrind')
if (!existsSync(join(ROOT, 'dist/index.js'))) fail('servekit is not built: run `npm run build` first')

// Bounded whatever happens: valgrind runs programs ~50 times slower; a request here takes milliseconds.
const plannedS = settings.servers.length * (60 + settings.models.length * (settings.warmup + (settings.rounds + 2) * settings.requests) * 0.01) * (flags['cache-sim'] ? 2 : 1)
setTimeout(() => {
  console.error(`bench: still running after ${Math.round(plannedS + 120)} s; stopping`)
  process.exit(3)
}, (plannedS + 120) * 1000).unref()

/** Starts `name` under callgrind, instrumentation off, and resolves once it prints its port. */
async function start(name) {
  const { script, args, env } = SERVERS[name]
  const dir = join(tmp, fileName(name))
  mkdirSync(dir)
  const vg = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--cache-sim=${flags['cache-sim'] ? 'yes' : 'no'}`, `--callgrind-out-file=${join(dir, 'callgrind.out')}`]
  // --single-threaded: no background compiler or GC threads, whose work would land in whichever
  // round it happened to run (rounds agreed to ~1% with it, to 10-40% without).
  // --keep: V8 writes /tmp/perf-<pid>.map, which names the JIT-compiled code in the profiles.
  const nodeFlags = ['--single-threaded', ...(flags.keep ? ['--perf-basic-prof'] : [])]
  const proc = spawn('valgrind', [...vg, process.execPath, ...nodeFlags, join(BENCH, script), '--port', '0', '--host', '127.0.0.1', ...args], {
    // In its own directory: V8's --perf-basic-prof writes isolate logs into the working directory.
    cwd: dir,
    env: { ...process.env, SERVEKIT_BENCH_TMP: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(proc)
  proc.once('exit', () => live.delete(proc))
  let tail = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 180 s:\n${tail}`)), 180_000)
    const onData = (chunk) => {
      // After the port, the output (access log lines) is only drained.
      tail = (tail + chunk).slice(-4096)
      const m = /"msg":"\w+ listening","port":(\d+)/.exec(tail)
      if (m) {
        clearTimeout(timer)
        proc.stdout.off('data', onData)
        proc.stdout.resume()
        resolve({ name, proc, dir, port: Number(m[1]) })
      }
    }
    proc.stdout.setEncoding('utf8').on('data', onData)
    proc.stderr.setEncoding('utf8').on('data', (d) => (tail = (tail + d).slice(-4096)))
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening:\n${tail}`)))
  })
}

/** `count` POSTs of the model's bench body, `concurrency` at a time over keep-alive connections. */
async function send(server, model, count) {
  const body = readFileSync(join(BENCH, `service/requests/${model}.json`))
  const agent = new http.Agent({ keepAlive: true, maxSockets: settings.concurrency })
  let next = 0
  let failed = 0
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path: '/infer', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        if (res.statusCode !== 200) failed++
        res.resume().on('end', resolve)
      })
      req.on('error', reject)
      req.end(body)
    })
  const worker = async () => {
    while (next < count) {
      next++
      await one()
    }
  }
  await Promise.all(Array.from({ length: settings.concurrency }, worker))
  agent.destroy()
  if (failed > 0) throw new Error(`${server.name} ${model}: ${failed} of ${count} responses were not 200`)
}

function callgrind(server, command) {
  const r = spawnSync('callgrind_control', [command, String(server.proc.pid)], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`callgrind_control ${command} ${server.proc.pid} failed: ${r.stderr || r.stdout}`)
}

/**
 * The counts since the last dump or zeroing, by event (Ir, and with --cache-sim the misses): the
 * dump's summary line. Each dump is removed once read, so the directory holds only the newest.
 */
function dumpedCounts(server, keepAs) {
  callgrind(server, '--dump')
  const [newest, ...more] = readdirSync(server.dir).filter((f) => f.startsWith('callgrind.out.')).map((f) => join(server.dir, f))
  if (more.length > 0) throw new Error(`${server.name}: more than one callgrind dump in ${server.dir}`)
  const text = newest ? readFileSync(newest, 'utf8') : ''
  const events = /^events: (.+)$/m.exec(text)?.[1].trim().split(/\s+/)
  const values = /^summary: (.+)$/m.exec(text)?.[1].trim().split(/\s+/).map(Number)
  if (!events || !values) throw new Error(`${server.name}: no summary in callgrind's dump ${newest}`)
  if (keepAs) {
    mkdirSync(dirname(keepAs), { recursive: true })
    writeFileSync(keepAs, text)
  }
  rmSync(newest)
  return Object.fromEntries(events.map((e, i) => [e, values[i] ?? 0]))
}

/**
 * Of the rounds' profiles (`files`, by round), keeps the median round's as `keepAs` with its .txt
 * beside it, and removes the others. The last round is not the one to keep: a short round can be
 * dominated by one-off work (a compilation, a collection; one seen in CI spent most of its
 * instructions in interpreted code, esbuild's stdout reader among it), and the figure reported is
 * the median's.
 */
function keepMedianRound(files, ir, keepAs, pid) {
  const order = ir.map((n, i) => [n, i]).sort((a, b) => a[0] - b[0])
  const chosen = order[Math.floor((order.length - 1) / 2)][1]
  files.forEach((f, i) => {
    if (i === chosen) renameSync(f, keepAs)
    else rmSync(f, { force: true })
  })
  writeFileSync(`${keepAs}.txt`, functionsPerRequest(keepAs, pid))
}

async function main() {
  console.log(`bench: instructions per request under callgrind; ${settings.servers.join(', ')} × ${settings.models.join(', ')}; ${settings.warmup} warm-up and ${settings.rounds} × ${settings.requests} counted requests each, ${settings.concurrency} in flight`)
  const results = []
  for (const name of settings.servers) {
    const server = await start(name)
    for (const model of settings.models) {
      await send(server, model, settings.warmup)
      const keepAs = flags.keep ? join(flags.keep, `${fileName(name)}.${model}.callgrind`) : undefined
      const perRequest = []
      const roundFiles = []
      // Instrumentation stays on across the rounds: each round zeroes the counters, sends, dumps.
      // The first few thousand requests after turning it on count 10-40% more (seen every time; the
      // program runs several times slower instrumented, and V8 adapts): they are sent uncounted.
      callgrind(server, '--instr=on')
      await send(server, model, 2 * settings.requests)
      for (let r = 1; r <= settings.rounds; r++) {
        callgrind(server, '--zero')
        await send(server, model, settings.requests)
        if (keepAs) roundFiles.push(`${keepAs}.round${r}`)
        const counts = dumpedCounts(server, roundFiles[r - 1])
        perRequest.push(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / settings.requests])))
      }
      callgrind(server, '--instr=off')
      const ir = perRequest.map((c) => c.Ir)
      if (keepAs) keepMedianRound(roundFiles, ir, keepAs, server.proc.pid)
      const row = { server: name, model, pid: server.proc.pid, instructions_per_request: Math.round(median(ir)), rounds: ir.map(Math.round) }
      if (flags['cache-sim']) {
        // Misses of valgrind's simulated caches (first level data, last level), not this CPU's counters.
        row.d1_misses_per_request = Math.round(median(perRequest.map((c) => c.D1mr + c.D1mw)))
        row.ll_misses_per_request = Math.round(median(perRequest.map((c) => c.DLmr + c.DLmw)))
      }
      results.push(row)
      const misses = flags['cache-sim'] ? `; D1 misses ${row.d1_misses_per_request}, LL misses ${row.ll_misses_per_request}` : ''
      console.log(`bench: ${model.padEnd(8)} ${name.padEnd(14)} ${(row.instructions_per_request / 1000).toFixed(1).padStart(7)} k instructions per request (rounds: ${row.rounds.map((x) => (x / 1000).toFixed(1)).join(', ')})${misses}`)
    }
    server.proc.kill('SIGTERM')
    await once(server.proc, 'exit')
    // V8 leaves its perf map behind (--keep): it has named the functions already.
    rmSync(`/tmp/perf-${server.proc.pid}.map`, { force: true })
  }
  for (const r of results) {
    const bare = results.find((b) => b.server === 'bare' && b.model === r.model)
    r.ratio_to_bare = bare && r !== bare ? Math.round((r.instructions_per_request / bare.instructions_per_request) * 100) / 100 : null
  }
  console.log(`\n${'model'.padEnd(9)}${'server'.padEnd(15)}${'k instr/req'.padStart(12)}${'× bare'.padStart(8)}`)
  for (const r of results) console.log(`${r.model.padEnd(9)}${r.server.padEnd(15)}${(r.instructions_per_request / 1000).toFixed(1).padStart(12)}${(r.ratio_to_bare?.toFixed(2) ?? '').padStart(8)}`)
  settings.cache_sim = flags['cache-sim']
  const report = { started_at: new Date().toISOString(), machine: { node: process.version, valgrind: spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).stdout.trim() }, settings, results }
  mkdirSync(dirname(flags.out), { recursive: true })
  writeFileSync(flags.out, JSON.stringify(report, null, 2) + '\n')
  console.log(`wrote ${flags.out}`)
}

/**
 * The profile's functions by instructions per request, JIT-compiled code named from V8's perf map
 * (callgrind names code it has no symbol for by its address: the address of its first block).
 */
function functionsPerRequest(file, pid) {
  const map = []
  const mapFile = `/tmp/perf-${pid}.map`
  if (existsSync(mapFile)) {
    for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line)
      if (m) map.push([parseInt(m[1], 16), parseInt(m[2], 16), m[3]])
    }
  }
  // Code is moved and its space reused: the latest entry holding an address names it.
  const name = (address) => {
    for (let i = map.length - 1; i >= 0; i--) if (address >= map[i][0] && address < map[i][0] + map[i][1]) return map[i][2].replace(ROOT, '')
    return `0x${address.toString(16)}`
  }
  // Every function (a threshold below 100% can leave out servekit's own in a round that one-off work dominates).
  const out = spawnSync('callgrind_annotate', ['--threshold=100', file], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout
  const byName = new Map()
  for (const line of out.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)\s*(?:\[.*\])?$/.exec(line)
    if (!m || m[2] === 'PROGRAM TOTALS') continue
    const address = /^\?\?\?:0x([0-9a-f]+)$/.exec(m[2])
    const fn = address ? name(parseInt(address[1], 16)) : m[2].replace(/^\?\?\?:/, '')
    byName.set(fn, (byName.get(fn) ?? 0) + Number(m[1].replaceAll(',', '')) / settings.requests)
  }
  // Functions under half an instruction a request (start-up code run once, say) are left out.
  return [...byName].filter(([, n]) => n >= 0.5).sort((a, b) => b[1] - a[1]).map(([fn, n]) => `${Math.round(n).toString().padStart(8)}  ${fn}`).join('\n') + '\n'
}

function fail(msg) {
  console.error(`bench: ${msg}\n${USAGE}`)
  process.exit(2)
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench: ${err.stack ?? err}`)
    process.exit(1)
  },
)
