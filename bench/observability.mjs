#!/usr/bin/env node
// What observability costs: `npm run bench:observability` (flags after `--`).
//
// Serves the bench models (bench/service) twice, with the same worker count:
//   on:  metrics, logs at info (with the access log), prediction log to JSONL files, every prediction
//   off: metrics: { enabled: false }, logging at warn without the access log, predictionLog: { enabled: false }
// Drift monitoring and tracing keep their defaults in both. Then, per model, saturates each server
// with wrk in alternating rounds (off, on, off, on, …) so that drift in the machine's state hits
// both alike, and reports the median throughput of each and the ratio on/off (target: >= 0.90).
// It also reads the prediction log's counters: events dropped at saturation are reported, not hidden.
// Results: bench/results/observability.json. See docs/performance.md.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { observabilityVariants } from './lib/variants.mjs'
import { freePort, median, processTreeCpuSeconds, trackServers } from './lib/processes.mjs'

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH)
const SERVICE = join(BENCH, 'service')
// tumor_onnx (only when asked for, --models): an ONNX MLP, a model that does real work.
const BODY = { sum: join(SERVICE, 'requests/sum.json'), tabular: join(SERVICE, 'requests/tabular.json'), tumor_onnx: join(SERVICE, 'requests/tumor_onnx.json') }

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    models: { type: 'string', default: 'sum,tabular' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(BENCH, 'results/observability.json') },
    breakdown: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    paired: { type: 'boolean', default: false },
    variants: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (flags.help) {
  console.log(`usage: npm run bench:observability -- [--workers 2] [--duration 8] [--rounds 3] [--connections 32] [--threads 2] [--models sum,tabular,tumor_onnx] [--breakdown | --variants off,on,...] [--pin] [--paired] [--quick] [--out FILE]`)
  process.exit(0)
}
const settings = {
  workers: Number(flags.workers),
  duration_s: flags.quick ? 1 : Number(flags.duration),
  rounds: flags.quick ? 1 : Number(flags.rounds),
  warmup_s: flags.quick ? 1 : 2,
  connections: Number(flags.connections),
  threads: Number(flags.threads),
  models: flags.quick ? ['sum'] : flags.models.split(','),
  paired: flags.paired,
}
for (const m of settings.models) if (!(m in BODY)) throw new Error(`unknown model ${m} (sum, tabular, tumor_onnx)`)
if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
  console.error('bench: servekit is not built: run `npm run build` first')
  process.exit(2)
}
// --paired: every variant served at once, on the same core, each saturated by its own wrk.
if (flags.paired) flags.pin = true
if (flags.pin && (os.availableParallelism() < 2 || Number(flags.workers) !== 1)) {
  console.error('bench: --pin and --paired need two cores and --workers 1 (the servers on one core, wrk on the other)')
  process.exit(2)
}
if (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error !== undefined) {
  console.error('bench: wrk is not installed: apt-get install -y wrk')
  process.exit(2)
}

const tmp = mkdtempSync(join(os.tmpdir(), 'servekit-bench-obs-'))
/** In memory, for the prediction_log_tmpfs variant. */
const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/servekit-bench-obs-') : undefined
const live = trackServers(() => {
  rmSync(tmp, { recursive: true, force: true })
  if (shm) rmSync(shm, { recursive: true, force: true })
})

const variants = observabilityVariants(tmp, shm, { onnx: settings.models.includes('tumor_onnx') })
const names = flags.variants ? flags.variants.split(',') : flags.breakdown ? Object.keys(variants) : ['off', 'on']
for (const n of names) if (!(n in variants)) throw new Error(`unknown variant ${n} (${Object.keys(variants).join(', ')})`)
if (!names.includes('off') || !names.includes('on')) throw new Error('--variants must include off and on')
// Bounded whatever happens: the plan plus a margin.
const plannedS = settings.models.length * names.length * (settings.warmup_s + settings.rounds * (settings.duration_s + 1)) + 30
setTimeout(() => {
  console.error(`bench: still running after ${plannedS + 60} s; stopping`)
  process.exit(3)
}, (plannedS + 60) * 1000).unref()

async function startServer(name) {
  const config = join(tmp, `${name}.config.mjs`)
  writeFileSync(config, `export default ${JSON.stringify(variants[name])}\n`)
  // At level warn the "listening" line (info) is not printed: pick the port here and poll /ready.
  const port = await freePort()
  const args = [join(ROOT, 'bin/servekit.js'), 'serve', '--config', config, '--port', String(port), '--host', '127.0.0.1', '--workers', String(settings.workers)]
  // Own process group, so that the primary and its workers can be killed together if need be.
  const proc = spawn(...pinned(0, process.execPath, args), { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], detached: true })
  live.add(proc)
  const url = `http://127.0.0.1:${port}`
  // Every worker loads before it listens, so once /ready answers 200 on fresh connections a few
  // times in a row, the workers are up.
  let streak = 0
  for (const deadline = Date.now() + 30_000; streak < 5; ) {
    if (proc.exitCode !== null) throw new Error(`${name}: exited with ${proc.exitCode}`)
    if (Date.now() > deadline) throw new Error(`${name}: not ready after 30 s`)
    const ok = await fetch(`${url}/ready`, { headers: { connection: 'close' } }).then((r) => r.status === 200, () => false)
    streak = ok ? streak + 1 : 0
    await new Promise((r) => setTimeout(r, ok ? 20 : 100))
  }
  return { name, proc, url }
}

/**
 * --pin: servers on CPU 0 and wrk on CPU 1 (taskset), so that they do not take turns on the same
 * core. On a machine shared with other work, run the bench under `nice -n -19` as well.
 */
function pinned(cpu, cmd, args) {
  return flags.pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]
}

async function stopServer(server) {
  server.proc.kill('SIGTERM')
  const [code] = await once(server.proc, 'exit')
  return code
}

async function wrk(url, model, seconds) {
  const args = ['-t', String(settings.threads), '-c', String(settings.connections), '-d', `${seconds}s`, '--timeout', '2s', '-s', join(BENCH, 'wrk/infer.lua'), `${url}/infer`]
  const proc = spawn(...pinned(1, 'wrk', args), { env: { ...process.env, BENCH_BODY_FILE: BODY[model] }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  proc.stdout.on('data', (d) => (out += d))
  // 'close', not 'exit': the output may still be unread when wrk has exited.
  const [code] = await once(proc, 'close')
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}):\n${out}`)
  const r = JSON.parse(line.slice('BENCH_JSON '.length))
  const errors = r.errors.status + r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout
  return { requests: r.requests, rps: Math.round(r.requests / (r.duration_us / 1e6)), p50_ms: r.latency_us.p50 / 1000, p99_ms: r.latency_us.p99 / 1000, errors }
}

/** One measured wrk run, with the server's CPU time per request. */
async function measure(server, model, seconds) {
  const cpu0 = processTreeCpuSeconds(server.proc.pid)
  const r = await wrk(server.url, model, seconds)
  const cpu = processTreeCpuSeconds(server.proc.pid) - cpu0
  return { ...r, cpu_us_per_request: round((cpu * 1e6) / r.requests, 1) }
}

async function predictionLogCounters(url) {
  const text = await (await fetch(`${url}/metrics`)).text()
  const value = (re) => Number(re.exec(text)?.[1] ?? NaN)
  return {
    written: value(/^servekit_prediction_log_events_total\{sink="jsonl",outcome="written"\} (\S+)$/m),
    failed: value(/^servekit_prediction_log_events_total\{sink="jsonl",outcome="failed"\} (\S+)$/m),
    dropped: value(/^servekit_prediction_log_dropped_total (\S+)$/m),
  }
}

const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d

async function main() {
  console.log(`bench: observability ${names.join(', ')}; ${settings.workers} workers, models ${settings.models.join(', ')}, ${settings.rounds} × ${settings.duration_s} s rounds each; about ${plannedS} s`)
  const loadBefore = os.loadavg()
  const servers = {}
  for (const name of names) servers[name] = await startServer(name)
  const results = []
  for (const model of settings.models) {
    for (const name of names) await wrk(servers[name].url, model, settings.warmup_s)
    const runs = Object.fromEntries(names.map((n) => [n, []]))
    // Alternating rounds: whatever the machine's neighbours do hits every variant alike.
    for (let round_ = 0; round_ < settings.rounds; round_++) {
      const report = (name, r) => {
        runs[name].push(r)
        console.log(`bench: ${model} ${name.padEnd(19)} round ${round_ + 1}: ${r.rps} req/s, ${r.cpu_us_per_request} µs CPU/request, p50 ${r.p50_ms.toFixed(2)} ms, p99 ${r.p99_ms.toFixed(2)} ms, errors ${r.errors}`)
      }
      if (flags.paired) {
        const rs = await Promise.all(names.map((name) => measure(servers[name], model, settings.duration_s)))
        names.forEach((name, i) => report(name, rs[i]))
      } else {
        for (const name of names) report(name, await measure(servers[name], model, settings.duration_s))
      }
    }
    // An even number of rounds gives the mean of the middle two: rounded like the rounds' own figures.
    const summary = (rs) => ({ rps: Math.round(median(rs.map((r) => r.rps))), cpu_us_per_request: round(median(rs.map((r) => r.cpu_us_per_request)), 1), p50_ms: round(median(rs.map((r) => r.p50_ms)), 3), p99_ms: round(median(rs.map((r) => r.p99_ms)), 3), errors: rs.reduce((a, r) => a + r.errors, 0), runs: rs })
    const byVariant = Object.fromEntries(names.map((n) => [n, summary(runs[n])]))
    const off = byVariant.off
    for (const name of names) {
      const v = byVariant[name]
      // Throughput ratio measured, and the one CPU cost implies for a CPU-bound server (off cost / this cost).
      // Ratios within each round (measured together, or back to back), then their median: the
      // machine's speed drifts between rounds more than the variants differ.
      const perRound = (f) => median(v.runs.map((r, i) => f(r, off.runs[i])))
      results.push({ model, variant: name, ...v, ratio_to_off: round(perRound((r, o) => r.rps / o.rps), 3), cpu_ratio_off_to_this: round(perRound((r, o) => o.cpu_us_per_request / r.cpu_us_per_request), 3) })
    }
  }
  const counters = await predictionLogCounters(servers.on.url)
  const codes = {}
  for (const name of names) codes[name] = await stopServer(servers[name])
  // After a graceful stop every buffered event is in the files.
  const dir = join(tmp, 'prediction-logs')
  const files = existsSync(dir) ? readdirSync(dir) : []
  const bytes = files.reduce((a, f) => a + statSync(join(dir, f)).size, 0)

  const onRows = results.filter((r) => r.variant === 'on')
  const report = {
    started_at: new Date().toISOString(),
    machine: { cpus: os.availableParallelism(), cpu_model: os.cpus()[0]?.model ?? null, node: process.version, load_avg_before: loadBefore.map((x) => round(x)) },
    settings,
    variants: JSON.parse(JSON.stringify(Object.fromEntries(names.map((n) => [n, variants[n]]))).replaceAll(tmp, '<tmp>')),
    results,
    prediction_log: { ...counters, files: files.length, mb: round(bytes / 1e6, 1) },
    exit_codes: codes,
    machine_after: { load_avg: os.loadavg().map((x) => round(x)) },
    target: { ratio_on_to_off: 0.9, met: onRows.every((r) => r.ratio_to_off >= 0.9), met_by_cpu_cost: onRows.every((r) => r.cpu_ratio_off_to_this >= 0.9) },
  }
  mkdirSync(dirname(flags.out), { recursive: true })
  writeFileSync(flags.out, JSON.stringify(report, null, 2) + '\n')

  const width = Math.max(19, ...names.map((n) => n.length))
  console.log(`\n${'model'.padEnd(10)} ${'variant'.padEnd(width)} ${'req/s'.padStart(7)} ${'vs off'.padStart(7)} ${'µs CPU/req'.padStart(11)} ${'CPU off/this'.padStart(13)} ${'p99 ms'.padStart(8)}`)
  for (const r of results) {
    console.log(`${r.model.padEnd(10)} ${r.variant.padEnd(width)} ${String(r.rps).padStart(7)} ${r.ratio_to_off.toFixed(3).padStart(7)} ${String(r.cpu_us_per_request).padStart(11)} ${r.cpu_ratio_off_to_this.toFixed(3).padStart(13)} ${r.p99_ms.toFixed(2).padStart(8)}`)
  }
  console.log(`prediction log (on): ${counters.written} events written, ${counters.failed} failed, ${counters.dropped} dropped; ${files.length} files, ${report.prediction_log.mb} MB`)
  console.log(`target on/off >= 0.90: throughput ${report.target.met ? 'met' : 'NOT met'}, CPU cost ${report.target.met_by_cpu_cost ? 'met' : 'NOT met'}; load average ${loadBefore[0].toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after; results in ${flags.out}`)
  if (Object.values(codes).some((c) => c !== 0)) throw new Error(`a server did not stop cleanly: ${JSON.stringify(codes)}`)
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench: ${err.stack ?? err}`)
    process.exit(1)
  },
)
