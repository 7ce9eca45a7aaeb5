#!/usr/bin/env node
// Dynamic batching bench: `npm run bench:batching` (flags after `--`, e.g. `-- --duration 5`).
//
// One servekit service (2 workers by default) serves the same ONNX model under two model ids:
// `mlp` (batching off) and `mlp_batched` (batching: { maxBatchSize, maxDelayMs }). wrk drives each
// at the same concurrency (64 connections by default), alternating between the two for several
// rounds (ABBA order) so both see the same machine. Results: mean throughput over the rounds, the
// median round's latency percentiles and the worst round's p99. The model is an MLP
// (30 -> hidden -> hidden -> 2, ReLU, softmax) written here as an ONNX file with fixed seeded
// weights, so the bench needs no Python and no stored artifact. Results: a table on stdout and
// bench/results/batching.json; docs/performance.md ("Dynamic batching") shows a run.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median, processTreeCpuSeconds, trackServers } from './lib/processes.mjs'

/** The median, to three decimals (the figures printed and written). */
const median3 = (xs) => Math.round(median(xs) * 1000) / 1000

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH)

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '3' },
    hidden: { type: 'string', default: '512' },
    'max-batch-size': { type: 'string', default: '32' },
    'max-delay-ms': { type: 'string', default: '2' },
    out: { type: 'string', default: join(BENCH, 'results/batching.json') },
    help: { type: 'boolean', default: false },
  },
})
if (flags.help) {
  console.log(`usage: npm run bench:batching -- [--workers 2] [--connections 64] [--threads 2] [--duration 5] [--rounds 6]
                     [--warmup 3] [--hidden 512] [--max-batch-size 32] [--max-delay-ms 2] [--out FILE]`)
  process.exit(0)
}
const num = (name) => {
  const n = Number(flags[name])
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
  return n
}
const settings = {
  workers: num('workers'),
  connections: num('connections'),
  threads: num('threads'),
  duration_s: Math.round(num('duration')),
  rounds: num('rounds'),
  warmup_s: Math.round(num('warmup')),
  model: { inputs: 30, hidden: num('hidden'), outputs: 2 },
  batching: { maxBatchSize: num('max-batch-size'), maxDelayMs: Number(flags['max-delay-ms']) },
}

if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
  console.error('bench: servekit is not built: run `npm run build` first')
  process.exit(2)
}
if (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error !== undefined) {
  console.error('bench: wrk is not installed (apt-get install -y wrk)')
  process.exit(2)
}

// ---------------------------------------------------------------------------------------------
// An ONNX file, written by hand: protobuf is tags, varints and length-prefixed bytes.

const varint = (n) => {
  const out = []
  let v = BigInt(n)
  do {
    let byte = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) byte |= 0x80
    out.push(byte)
  } while (v > 0n)
  return Buffer.from(out)
}
const field = (no, wire, payload) => Buffer.concat([varint((no << 3) | wire), payload])
const int = (no, n) => field(no, 0, varint(n))
const bytes = (no, buf) => field(no, 2, Buffer.concat([varint(buf.length), buf]))
const str = (no, s) => bytes(no, Buffer.from(s, 'utf8'))
const msg = (no, ...parts) => bytes(no, Buffer.concat(parts))

const FLOAT = 1
const tensor = (name, dims, values) => msg(5, ...dims.map((d) => int(1, d)), int(2, FLOAT), str(8, name), bytes(9, Buffer.from(new Float32Array(values).buffer)))
const valueInfo = (no, name, dims) => msg(no, str(1, name), msg(2, msg(1, int(1, FLOAT), msg(2, ...dims.map((d) => (typeof d === 'string' ? msg(1, str(2, d)) : msg(1, int(1, d))))))))
const node = (op, inputs, outputs) => msg(1, ...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, `${op}_${outputs[0]}`), str(4, op))

/** Deterministic weights (mulberry32), scaled by 1/sqrt(fan-in) so activations stay in range. */
function weights(seed, rows, cols) {
  let a = seed
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const scale = 1 / Math.sqrt(rows)
  return Array.from({ length: rows * cols }, () => (rand() * 2 - 1) * scale)
}

function mlpOnnx({ inputs, hidden, outputs }) {
  const layers = [
    ['W1', 'B1', inputs, hidden],
    ['W2', 'B2', hidden, hidden],
    ['W3', 'B3', hidden, outputs],
  ]
  const graph = Buffer.concat([
    node('Gemm', ['input', 'W1', 'B1'], ['h1']),
    node('Relu', ['h1'], ['r1']),
    node('Gemm', ['r1', 'W2', 'B2'], ['h2']),
    node('Relu', ['h2'], ['r2']),
    node('Gemm', ['r2', 'W3', 'B3'], ['logits']),
    node('Softmax', ['logits'], ['probabilities']),
    str(2, 'mlp'),
    ...layers.flatMap(([w, b, rows, cols], i) => [tensor(w, [rows, cols], weights(i + 1, rows, cols)), tensor(b, [cols], weights(i + 101, 1, cols))]),
    valueInfo(11, 'input', ['batch', inputs]),
    valueInfo(12, 'probabilities', ['batch', outputs]),
  ])
  return Buffer.concat([int(1, 8), str(2, 'servekit-bench'), bytes(7, graph), msg(8, str(1, ''), int(2, 13))])
}

// ---------------------------------------------------------------------------------------------
// The service: one artifact, two model ids.

const work = mkdtempSync(join(os.tmpdir(), 'servekit-batching-bench-'))
const live = trackServers(() => rmSync(work, { recursive: true, force: true }))

for (const id of ['mlp', 'mlp_batched']) {
  const dir = join(work, 'models', id, '1')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'model.onnx'), mlpOnnx(settings.model))
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ framework: 'onnx', file: 'model.onnx', description: `MLP ${settings.model.inputs}-${settings.model.hidden}-${settings.model.hidden}-${settings.model.outputs}` }))
}
const config = {
  store: './models',
  pollIntervalMs: 0,
  models: {
    mlp: { framework: 'onnx', concurrency: { max: 256, queue: 1024 } },
    mlp_batched: { framework: 'onnx', concurrency: { max: 256, queue: 1024 }, batching: settings.batching },
  },
  logging: { level: 'info', accessLogSampleRate: 0 },
}
writeFileSync(join(work, 'servekit.config.mjs'), `export default ${JSON.stringify(config, null, 2)}\n`)
const features = weights(7, 1, settings.model.inputs).map((x) => Math.round(x * 1000) / 100)
for (const id of ['mlp', 'mlp_batched']) writeFileSync(join(work, `${id}.json`), JSON.stringify({ model_id: id, features }))

async function startServer() {
  const proc = spawn(process.execPath, [join(ROOT, 'bin/servekit.js'), 'serve', '--config', join(work, 'servekit.config.mjs'), '--port', '0', '--host', '127.0.0.1', '--workers', String(settings.workers)], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  live.add(proc)
  let out = ''
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`servekit did not start in 60 s:\n${out}`)), 60_000)
    const onData = (d) => {
      out += d
      const m = /"port":(\d+)[^\n]*servekit listening/.exec(out) ?? /servekit listening[^\n]*"port":(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.once('exit', (code) => reject(new Error(`servekit exited (${code}):\n${out}`)))
  })
  return { proc, url: `http://127.0.0.1:${port}/infer` }
}

async function stopServer(proc) {
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000)
  await once(proc, 'exit')
  clearTimeout(timer)
}


async function wrk(url, model, seconds, pid) {
  const cpuBefore = processTreeCpuSeconds(pid)
  const args = ['-t', String(settings.threads), '-c', String(settings.connections), '-d', `${seconds}s`, '--timeout', '5s', '-s', join(BENCH, 'wrk/infer.lua'), url]
  const proc = spawn('wrk', args, { env: { ...process.env, BENCH_BODY_FILE: join(work, `${model}.json`) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout.on('data', (d) => (out += d))
  proc.stderr.on('data', (d) => (out += d))
  // 'close', not 'exit': the output may still be unread when wrk has exited.
  const [code] = await once(proc, 'close')
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (code !== 0 || line === undefined) throw new Error(`wrk failed:\n${out}`)
  const r = JSON.parse(line.slice('BENCH_JSON '.length))
  const ms = (us) => Math.round(us) / 1000
  return {
    rps: Math.round(r.requests / (r.duration_us / 1e6)),
    // The figure least disturbed by other work on the machine: server CPU per request.
    cpu_us_per_request: Math.round(((processTreeCpuSeconds(pid) - cpuBefore) * 1e6) / r.requests),
    p50_ms: ms(r.latency_us.p50),
    p99_ms: ms(r.latency_us.p99),
    max_ms: ms(r.latency_us.max),
    errors: r.errors.status + r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout,
  }
}

async function check(url, model) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model_id: model, features }) })
  const body = await res.json()
  if (res.status !== 200) throw new Error(`${model}: ${res.status} ${JSON.stringify(body)}`)
  return JSON.stringify(body.output)
}

async function batchSizes(url) {
  const text = await (await fetch(url.replace('/infer', '/metrics'))).text()
  const values = new Map(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
  )
  const calls = values.get('servekit_batch_size_count{model="mlp_batched"}') ?? 0
  const items = values.get('servekit_batch_size_sum{model="mlp_batched"}') ?? 0
  return { calls, mean: calls > 0 ? Math.round((items / calls) * 10) / 10 : null }
}


/**
 * Mean throughput over the rounds, the median round's latency percentiles, the worst p99, and the
 * best round (highest throughput): on a shared machine, the round least disturbed by other work.
 */
function summarise(rounds) {
  const best = [...rounds].sort((a, b) => b.rps - a.rps)[0]
  return {
    best_round: { rps: best.rps, p50_ms: best.p50_ms, p99_ms: best.p99_ms },
    rps: Math.round(rounds.reduce((a, r) => a + r.rps, 0) / rounds.length),
    cpu_us_per_request: median3(rounds.map((r) => r.cpu_us_per_request)),
    p50_ms: median3(rounds.map((r) => r.p50_ms)),
    p99_ms: median3(rounds.map((r) => r.p99_ms)),
    worst_p99_ms: Math.max(...rounds.map((r) => r.p99_ms)),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
  }
}

async function main() {
  console.log(`bench: ONNX MLP ${settings.model.inputs}-${settings.model.hidden}-${settings.model.hidden}-${settings.model.outputs}, ${settings.workers} workers, wrk -c ${settings.connections}, ${settings.rounds} rounds of ${settings.duration_s} s per setting`)
  const server = await startServer()
  try {
    const plainOut = await check(server.url, 'mlp')
    if ((await check(server.url, 'mlp_batched')) !== plainOut) throw new Error('batched output differs from the unbatched one')
    for (const model of ['mlp', 'mlp_batched']) await wrk(server.url, model, settings.warmup_s, server.proc.pid)
    const runs = { off: [], on: [] }
    // ABBA order (off, on, on, off, off, on, ...), so load that drifts during the run weighs on both alike.
    for (let round = 0; round < settings.rounds; round++) {
      const order = round % 2 === 0 ? ['off', 'on'] : ['on', 'off']
      for (const key of order) {
        const r = await wrk(server.url, key === 'on' ? 'mlp_batched' : 'mlp', settings.duration_s, server.proc.pid)
        runs[key].push(r)
        console.log(`bench: round ${round + 1} batching ${key.padEnd(3)}: ${String(r.rps).padStart(6)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  ${r.cpu_us_per_request} µs CPU/request  errors ${r.errors}`)
      }
    }
    const sizes = await batchSizes(server.url)
    const off = summarise(runs.off)
    const on = summarise(runs.on)
    const report = {
      started_at: new Date().toISOString(),
      machine: { cpus: os.availableParallelism(), cpu_model: os.cpus()[0]?.model ?? null, node: process.version, load_avg: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      settings,
      batching_off: off,
      batching_on: on,
      rounds: runs,
      batch_size: sizes,
      throughput_ratio: Math.round((on.rps / off.rps) * 100) / 100,
      p99_ratio: Math.round((on.p99_ms / off.p99_ms) * 100) / 100,
      cpu_ratio: Math.round((on.cpu_us_per_request / off.cpu_us_per_request) * 100) / 100,
      best_round_throughput_ratio: Math.round((on.best_round.rps / off.best_round.rps) * 100) / 100,
      best_round_p99_ratio: Math.round((on.best_round.p99_ms / off.best_round.p99_ms) * 100) / 100,
      // Each round measures off and on back to back: the median of the per-round ratios cancels load
      // that comes and goes on a shared machine better than ratios of means.
      round_ratios: {
        throughput: median3(runs.on.map((r, i) => Math.round((r.rps / runs.off[i].rps) * 100) / 100)),
        p99: median3(runs.on.map((r, i) => Math.round((r.p99_ms / runs.off[i].p99_ms) * 100) / 100)),
      },
    }
    mkdirSync(dirname(flags.out), { recursive: true })
    writeFileSync(flags.out, JSON.stringify(report, null, 2) + '\n')
    console.log('\n| batching | req/s (mean) | p50 ms | p99 ms (median round) | p99 ms (worst round) | best round: req/s, p99 ms | server CPU µs/request | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const [name, r] of [['off', off], [`on (maxBatchSize ${settings.batching.maxBatchSize}, maxDelayMs ${settings.batching.maxDelayMs})`, on]]) {
      console.log(`| ${name} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.worst_p99_ms} | ${r.best_round.rps}, ${r.best_round.p99_ms} | ${r.cpu_us_per_request} | ${r.errors} |`)
    }
    console.log(`\non / off: throughput x${report.round_ratios.throughput}, p99 x${report.round_ratios.p99} (medians of the per-round ratios); server CPU per request x${report.cpu_ratio}; ${sizes.calls} predictBatch calls, ${sizes.mean} requests each on average. Written to ${flags.out}`)
  } finally {
    await stopServer(server.proc)
  }
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`)
  process.exit(1)
})
