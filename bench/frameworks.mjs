#!/usr/bin/env node
// Built-in model class micro-bench: `npm run bench:frameworks` (flags after `--`; `-- --help`).
//
// For the XGBoost, LightGBM and ONNX model classes (dist/frameworks/*.js, loaded through
// openArtifact from a temp version directory, as a service loads them), times `predict` on one row
// and `predictBatch` on 64 rows, against the raw library call on the same rows:
//   - ONNX: onnxruntime-node's InferenceSession.run with prebuilt tensors, a session of its own
//     with the class's settings (intraOpNumThreads 1, CPU);
//   - XGBoost: Python xgboost's Booster.inplace_predict (nthread 1) on prebuilt float32 numpy
//     arrays, in a /usr/bin/python3 subprocess timed with time.perf_counter_ns (skipped, with a
//     note, when that python has no xgboost). Without pandas installed, XGBoost 1.7 retries
//     `import pandas` on every call; the table's baseline short-circuits that import (as with pandas
//     installed) and the call as installed is reported beside it;
//   - LightGBM: no runnable reference here, so its figures stand alone.
// For the tree models it also times the TypeScript evaluator alone (`model.booster.predict` on
// prebuilt Float64Array rows), so the class's own cost (feature mapping and validation) shows.
//
// Every call is timed on its own (performance.now() / perf_counter_ns around it): median, p99 and
// rows/s (rows per call / median). Single-row calls cycle through the same 64 rows as the batch.
// The variants of one case take turns in ABBA slices (A B C C B A), each slice warmed up first, so
// noise from other work on the machine weighs on each alike. Outputs are checked to agree before
// anything is timed. Results: a table on stdout and bench/results/frameworks.json;
// docs/performance.md ("Built-in model classes") shows a run.
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH)
const FIXTURES = join(ROOT, 'test/fixtures')

const { values: flags } = parseArgs({
  options: {
    'budget-ms': { type: 'string', default: '1000' },
    'warmup-ms': { type: 'string', default: '200' },
    batch: { type: 'string', default: '64' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'no-python': { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '58' },
    out: { type: 'string', default: join(BENCH, 'results/frameworks.json') },
    help: { type: 'boolean', default: false },
  },
})
if (flags.help) {
  console.log(`usage: npm run bench:frameworks -- [options]

  --budget-ms N   timed milliseconds per variant and batch size, split over 2 slices (default 1000)
  --warmup-ms N   untimed calls before the timed ones, split over the 2 slices (default 200)
  --batch N       rows per predictBatch call (default 64)
  --python PATH   interpreter with xgboost for the XGBoost baseline (default /usr/bin/python3)
  --no-python     skip the Python xgboost baseline
  --timeout-s N   end the run (and its python subprocess) after N seconds (default 58)
  --out FILE      results JSON (default bench/results/frameworks.json)

Run \`npm run build\` first: the bench loads the model classes from dist/.`)
  process.exit(0)
}
const num = (name) => {
  const n = Number(flags[name])
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
  return n
}
const BUDGET_MS = num('budget-ms')
const WARMUP_MS = num('warmup-ms')
const BATCH = Math.round(num('batch'))
const SLICES = 2

if (!existsSync(join(ROOT, 'dist/frameworks/xgboost.js'))) {
  console.error('bench: servekit is not built: run `npm run build` first')
  process.exit(2)
}

const { default: xgboost } = await import('../dist/frameworks/xgboost.js')
const { default: lightgbm } = await import('../dist/frameworks/lightgbm.js')
const { default: onnx } = await import('../dist/frameworks/onnx.js')
const { openArtifact } = await import('../dist/store/artifact.js')

// ---------------------------------------------------------------------------------------------
// Cleanup: temp artifact directories and the python subprocess go away on every exit path.

const tempDirs = []
let python = null
function cleanup() {
  if (python !== null && python.child.exitCode === null && python.child.signalCode === null) python.child.kill('SIGKILL')
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup()
    process.exit(130)
  })
}
const watchdog = setTimeout(() => {
  console.error(`bench: the run took over ${flags['timeout-s']} s; stopping`)
  cleanup()
  process.exit(2)
}, num('timeout-s') * 1000)
watchdog.unref()

// ---------------------------------------------------------------------------------------------
// Timing

/** A growable array of per-call times in µs. */
class Samples {
  constructor() {
    this.data = new Float64Array(1 << 16)
    this.length = 0
  }
  push(v) {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.length++] = v
  }
  pushAll(values) {
    for (const v of values) this.push(v)
  }
}

/**
 * Calls `fn(i)` for `ms` milliseconds (awaiting it when it returns a promise), timing each call.
 * Returns the per-call times in µs, or adds them to `into`.
 */
async function timeCalls(fn, ms, into = null) {
  const end = performance.now() + ms
  let i = 0
  for (;;) {
    const t0 = performance.now()
    const r = fn(i++)
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') await r
    const t1 = performance.now()
    into?.push((t1 - t0) * 1000)
    if (t1 >= end) return i
  }
}

function summarize(samples, rowsPerCall) {
  const sorted = samples.data.slice(0, samples.length).sort()
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  let sum = 0
  for (const v of sorted) sum += v
  const median = at(0.5)
  return {
    calls: sorted.length,
    median_us: round(median),
    p99_us: round(at(0.99)),
    mean_us: round(sum / sorted.length),
    rows_per_s: Math.round((rowsPerCall * 1e6) / median),
  }
}
const round = (v) => (v >= 100 ? Math.round(v * 10) / 10 : Math.round(v * 1000) / 1000)

/** The cost of the timer itself: an empty call between two performance.now(). */
async function timerOverhead() {
  const samples = new Samples()
  await timeCalls(() => undefined, 100, samples)
  return summarize(samples, 1).median_us
}

// ---------------------------------------------------------------------------------------------
// Python xgboost, kept running for the whole bench and driven over stdin/stdout (one JSON line
// each way), so it is idle while Node measures and Node is idle while it measures.

const PYTHON_RUNNER = String.raw`
import importlib.util, json, sys, time
def reply(o):
    sys.stdout.write(json.dumps(o, separators=(",", ":")) + "\n")
    sys.stdout.flush()
try:
    import numpy as np
    import xgboost as xgb
except Exception as e:
    reply({"error": "%s: %s" % (type(e).__name__, e)})
    sys.exit(0)
perf = time.perf_counter_ns
def overhead():
    s = []
    for _ in range(20000):
        t0 = perf(); t1 = perf(); s.append(t1 - t0)
    s.sort()
    return s[len(s) // 2] / 1000
# XGBoost 1.7's inplace_predict checks for a pandas DataFrame with "import pandas" on every call;
# without pandas installed that failed import searches sys.path each time. sys.modules["pandas"] =
# None makes it fail at once, as cheap as the check is when pandas is installed.
pandas_missing = importlib.util.find_spec("pandas") is None
reply({"ready": True, "xgboost": xgb.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
       "pandas_missing": pandas_missing, "timer_overhead_us": overhead()})
cases = {}
for line in sys.stdin:
    msg = json.loads(line)
    op = msg["op"]
    if op == "load":
        booster = xgb.Booster(params={"nthread": 1}, model_file=msg["model"])
        booster.set_param({"nthread": 1})
        X = np.array([[np.nan if v is None else v for v in r] for r in msg["rows"]], dtype=np.float32)
        singles = [np.ascontiguousarray(X[i:i + 1]) for i in range(X.shape[0])]
        cases[msg["id"]] = (booster, X, singles)
        reply({"batch": booster.inplace_predict(X).tolist(), "singles": [booster.inplace_predict(s)[0].tolist() for s in singles]})
    elif op == "time":
        booster, X, singles = cases[msg["id"]]
        if pandas_missing:
            if msg["stub_pandas"]:
                sys.modules["pandas"] = None
            else:
                sys.modules.pop("pandas", None)
        n = len(singles)
        predict = booster.inplace_predict
        if msg["rows"] == 1:
            call = lambda i: predict(singles[i % n])
        else:
            call = lambda i: predict(X)
        i = 0
        end = perf() + int(msg["warmup_ms"] * 1e6)
        while perf() < end:
            call(i); i += 1
        samples = []
        end = perf() + int(msg["ms"] * 1e6)
        i = 0
        while True:
            t0 = perf()
            call(i)
            t1 = perf()
            samples.append(t1 - t0)
            i += 1
            if t1 >= end:
                break
        reply({"samples_ns": samples})
    elif op == "exit":
        break
`

class PythonRunner {
  constructor(executable) {
    this.child = spawn(executable, ['-c', PYTHON_RUNNER], { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT })
    this.stderr = ''
    this.child.stderr.setEncoding('utf8').on('data', (d) => (this.stderr += d))
    this.lines = []
    this.waiting = []
    this.closed = false
    this.child.on('error', (err) => this.fail(err))
    this.child.on('close', () => this.fail(new Error(`python exited${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`)))
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.waiting.shift()
      if (waiter) waiter.resolve(line)
      else this.lines.push(line)
    })
  }
  fail(err) {
    this.closed = true
    for (const waiter of this.waiting.splice(0)) waiter.reject(err)
    this.error = err
  }
  async next(timeoutMs) {
    const line = this.lines.shift()
    if (line !== undefined) return JSON.parse(line)
    if (this.closed) throw this.error
    let timer
    const text = await new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      timer = setTimeout(() => reject(new Error(`python did not answer within ${timeoutMs} ms`)), timeoutMs)
    }).finally(() => clearTimeout(timer))
    return JSON.parse(text)
  }
  async request(msg, timeoutMs) {
    this.child.stdin.write(`${JSON.stringify(msg)}\n`)
    return this.next(timeoutMs)
  }
  async stop() {
    if (this.closed) return
    this.child.stdin.end(`${JSON.stringify({ op: 'exit' })}\n`)
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        resolve()
      }, 2000)
      this.child.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures, artifacts, checks

const ctx = { parameters: {}, signal: new AbortController().signal }
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))
const cycle = (rows, n) => Array.from({ length: n }, (_, i) => rows[i % rows.length])
const flat = (v) => (Array.isArray(v) ? v.flat(Infinity) : [v])

/** A version directory holding `fixture` as `name`, opened as servekit opens one. */
async function artifactWith(fixture, name) {
  const dir = mkdtempSync(join(os.tmpdir(), 'servekit-bench-frameworks-'))
  tempDirs.push(dir)
  copyFileSync(fixture, join(dir, name))
  return openArtifact(dir, 'bench', '1')
}

function expectClose(what, got, want, absolute, relative) {
  const g = flat(got)
  const w = flat(want)
  if (g.length !== w.length) throw new Error(`${what}: ${g.length} values, reference has ${w.length}`)
  let worst = 0
  w.forEach((ref, i) => {
    const err = Math.abs(g[i] - ref)
    if (!(err <= absolute + relative * Math.abs(ref))) throw new Error(`${what}[${i}]: servekit ${g[i]}, reference ${ref}`)
    worst = Math.max(worst, err)
  })
  return worst
}

// ---------------------------------------------------------------------------------------------
// Cases: one per model, each with variants timed for 1 row and BATCH rows.

async function xgboostCase(name) {
  const fixture = join(FIXTURES, 'xgboost', `${name}.json`)
  const ref = readJson(join(FIXTURES, 'xgboost', `${name}.rows.json`))
  const features = cycle(ref.rows.map((r) => r.features), BATCH)
  const model = await xgboost.load(await artifactWith(fixture, 'model.json'), { options: {} })
  const rows = features.map((f) => Float64Array.from(f, (v) => (v === null ? Number.NaN : v)))
  const booster = model.booster
  const classBatch = await xgboost.predictBatch(model, features, ctx)
  ref.rows.forEach((r, i) => expectClose(`${name} row ${i} vs XGBoost ${ref.xgboost_version} (fixture)`, xgboost.predict(model, r.features, ctx), r.predict, 1e-5, 1e-5))
  const c = {
    framework: 'xgboost',
    model: `${name}.json`,
    description: `${ref.objective}, ${booster.numFeatures} features, ${readJson(fixture).learner.gradient_booster.model.trees.length} trees`,
    variants: [
      {
        key: 'class',
        label: 'servekit class',
        single: (i) => xgboost.predict(model, features[i % BATCH], ctx),
        batch: () => xgboost.predictBatch(model, features, ctx),
      },
      {
        key: 'evaluator',
        label: 'TS evaluator alone (booster.predict on Float64Array rows)',
        single: (i) => booster.predict(rows[i % BATCH], false),
        batch: () => {
          const out = new Array(BATCH)
          for (let k = 0; k < BATCH; k++) out[k] = booster.predict(rows[k], false)
          return out
        },
      },
    ],
    raw: null,
    checks: {},
  }
  if (python !== null) {
    const id = name
    const reply = await python.request({ op: 'load', id, model: fixture, rows: features }, 30_000)
    c.checks.max_abs_diff_vs_python = Math.max(
      expectClose(`${name} batch of ${BATCH} vs Python inplace_predict`, classBatch, reply.batch, 1e-5, 1e-5),
      ...features.map((f, i) => expectClose(`${name} row ${i} vs Python inplace_predict`, xgboost.predict(model, f, ctx), reply.singles[i], 1e-5, 1e-5)),
    )
    const timed = (rowsPerCall, stubPandas) => async (ms, warmupMs) => {
      const answer = await python.request({ op: 'time', id, rows: rowsPerCall, ms, warmup_ms: warmupMs, stub_pandas: stubPandas }, ms + warmupMs + 30_000)
      return answer.samples_ns.map((ns) => ns / 1000)
    }
    const label = `Python xgboost ${python.info.xgboost} Booster.inplace_predict (nthread 1)`
    if (python.info.pandas_missing) {
      // The baseline in the table is the faster one: as with pandas installed.
      c.variants.push({ key: 'raw', label: `${label}, pandas import short-circuited`, remote: true, single: timed(1, true), batch: timed(BATCH, true) })
      c.variants.push({ key: 'python_as_installed', label: `${label}, as installed (no pandas)`, remote: true, single: timed(1, false), batch: timed(BATCH, false) })
    } else {
      c.variants.push({ key: 'raw', label, remote: true, single: timed(1, false), batch: timed(BATCH, false) })
    }
    c.raw = 'raw'
  }
  return c
}

async function lightgbmCase(name) {
  const fixture = join(FIXTURES, 'lightgbm', `${name}.model.txt`)
  const ref = readJson(join(FIXTURES, 'lightgbm', `${name}.rows.json`))
  const features = cycle(ref.rows, BATCH)
  const model = await lightgbm.load(await artifactWith(fixture, 'model.txt'), { options: {} })
  const rows = features.map((f) => Float64Array.from(f, (v) => (v === null ? Number.NaN : v)))
  const booster = model.booster
  ref.rows.forEach((r, i) => expectClose(`${name} row ${i} vs the LightGBM CLI (fixture)`, lightgbm.predict(model, r, ctx), ref.expected[i], 1e-12, 1e-12))
  return {
    framework: 'lightgbm',
    model: `${name}.model.txt`,
    description: `${ref.objective.split(' ')[0]}, ${booster.numFeatures} features, ${booster.numTrees} trees`,
    variants: [
      {
        key: 'class',
        label: 'servekit class',
        single: (i) => lightgbm.predict(model, features[i % BATCH], ctx),
        batch: () => lightgbm.predictBatch(model, features, ctx),
      },
      {
        key: 'evaluator',
        label: 'TS evaluator alone (booster.predict on Float64Array rows)',
        single: (i) => booster.predict(rows[i % BATCH], false),
        batch: () => {
          const out = new Array(BATCH)
          for (let k = 0; k < BATCH; k++) out[k] = booster.predict(rows[k], false)
          return out
        },
      },
    ],
    raw: null,
    checks: {},
  }
}

async function onnxCase(name, ort) {
  const fixture = join(FIXTURES, 'onnx', `${name}.onnx`)
  const ref = readJson(join(FIXTURES, 'onnx', `${name}.rows.json`))
  const features = cycle(ref.rows.map((r) => r.features), BATCH)
  const model = await onnx.load(await artifactWith(fixture, 'model.onnx'), { options: {} })
  // The session options the class uses by default (src/frameworks/onnx/options.ts).
  const session = await ort.InferenceSession.create(fixture, { intraOpNumThreads: 1, executionProviders: ['cpu'] })
  const [input] = session.inputNames
  const width = features[0][input].length
  const tensorOf = (list) => new ort.Tensor('float32', Float32Array.from(list.flatMap((f) => f[input])), [list.length, width])
  const singleFeeds = features.map((f) => ({ [input]: tensorOf([f]) }))
  const batchFeeds = { [input]: tensorOf(features) }

  // The class returns {output: row}; the raw run returns one tensor per output.
  const classBatch = await onnx.predictBatch(model, features, ctx)
  const rawBatch = await session.run(batchFeeds)
  let worst = 0
  for (const out of session.outputNames) {
    const per = rawBatch[out].dims.slice(1).reduce((a, b) => a * b, 1)
    classBatch.forEach((row, i) => {
      worst = Math.max(worst, expectClose(`${name} ${out} row ${i} vs session.run`, row[out], Array.from(rawBatch[out].data.subarray(i * per, (i + 1) * per)), 1e-6, 0))
    })
  }
  for (const [i, r] of ref.rows.entries()) {
    const got = await onnx.predict(model, r.features, ctx)
    for (const out of Object.keys(r.expected)) expectClose(`${name} ${out} row ${i} vs ${ref.producer} (fixture)`, got[out], r.expected[out], 1e-5, 1e-4)
  }
  return {
    framework: 'onnx',
    model: `${name}.onnx`,
    description: `float32 [batch, ${width}] -> ${session.outputNames.join(', ')}`,
    variants: [
      {
        key: 'class',
        label: 'servekit class',
        single: (i) => onnx.predict(model, features[i % BATCH], ctx),
        batch: () => onnx.predictBatch(model, features, ctx),
      },
      {
        key: 'raw',
        label: `onnxruntime-node ${ort.env.versions?.common ?? '?'} InferenceSession.run, prebuilt tensors`,
        single: (i) => session.run(singleFeeds[i % BATCH]),
        batch: () => session.run(batchFeeds),
      },
    ],
    raw: 'raw',
    checks: { max_abs_diff_vs_session_run: worst },
    release: async () => {
      await onnx.unload(model)
      await session.release()
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Run

const started = new Date()
const loadBefore = os.loadavg()
const notes = []
const timer = { node_us: await timerOverhead(), python_us: null }

if (!flags['no-python']) {
  const runner = new PythonRunner(flags.python)
  try {
    const hello = await runner.next(20_000)
    if (hello.error) throw new Error(hello.error)
    runner.info = hello
    python = runner
    timer.python_us = hello.timer_overhead_us
  } catch (err) {
    notes.push(`XGBoost baseline skipped: ${flags.python} has no usable xgboost (${err.message}); apt-get install -y python3-xgboost`)
    runner.child.kill('SIGKILL')
  }
} else {
  notes.push('XGBoost baseline skipped (--no-python)')
}

const ort = await import('onnxruntime-node').then((m) => m.default ?? m)
const cases = [
  await xgboostCase('binary_logistic'),
  await xgboostCase('multi_softprob'),
  await lightgbmCase('breast_cancer_binary'),
  await onnxCase('mlp', ort),
]

const results = []
for (const c of cases) {
  for (const [size, kind] of [
    [1, 'single'],
    [BATCH, 'batch'],
  ]) {
    const pooled = new Map(c.variants.map((v) => [v.key, new Samples()]))
    // ABBA: A B C, then C B A, each slice warmed up first.
    for (let slice = 0; slice < SLICES; slice++) {
      const order = slice % 2 === 0 ? c.variants : [...c.variants].reverse()
      for (const v of order) {
        const ms = BUDGET_MS / SLICES
        const warmupMs = WARMUP_MS / SLICES
        if (v.remote) {
          pooled.get(v.key).pushAll(await v[kind](ms, warmupMs))
        } else {
          await timeCalls(v[kind], warmupMs)
          await timeCalls(v[kind], ms, pooled.get(v.key))
        }
      }
    }
    const row = { framework: c.framework, model: c.model, description: c.description, rows_per_call: size, variants: {} }
    for (const v of c.variants) row.variants[v.key] = { label: v.label, ...summarize(pooled.get(v.key), size) }
    if (c.raw !== null) row.class_over_raw = Math.round((row.variants.class.median_us / row.variants[c.raw].median_us) * 1000) / 1000
    if (row.variants.python_as_installed) {
      row.class_over_python_as_installed = Math.round((row.variants.class.median_us / row.variants.python_as_installed.median_us) * 1000) / 1000
    }
    if (row.variants.evaluator) row.class_over_evaluator = Math.round((row.variants.class.median_us / row.variants.evaluator.median_us) * 100) / 100
    row.checks = c.checks
    results.push(row)
    process.stderr.write(`  ${c.model} x${size}: done\n`)
  }
}

for (const c of cases) await c.release?.()
const pythonInfo = python?.info ?? null
if (python !== null) await python.stop()
const loadAfter = os.loadavg()

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (v) => (v === undefined ? '' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
const rate = (v) => (v === undefined ? '' : v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : String(v))
const rawName = (r) => (r.framework === 'onnx' ? 'ort `session.run`' : r.framework === 'xgboost' && r.variants.raw ? 'py `inplace_predict`' : 'none')
const header = [
  'model',
  'rows / call',
  'class median µs',
  'class p99 µs',
  'class rows/s',
  'TS evaluator alone median µs',
  'raw call',
  'raw median µs',
  'raw p99 µs',
  'raw rows/s',
  'class / raw',
]
const lines = [`| ${header.join(' | ')} |`, `| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |`]
for (const r of results) {
  const raw = r.variants.raw
  lines.push(
    `| ${[
      `${r.framework} \`${r.model}\``,
      r.rows_per_call,
      fmt(r.variants.class.median_us),
      fmt(r.variants.class.p99_us),
      rate(r.variants.class.rows_per_s),
      fmt(r.variants.evaluator?.median_us),
      rawName(r),
      fmt(raw?.median_us),
      fmt(raw?.p99_us),
      rate(raw?.rows_per_s),
      r.class_over_raw === undefined ? '' : `x${r.class_over_raw < 0.1 ? r.class_over_raw.toFixed(3) : r.class_over_raw.toFixed(2)}`,
    ].join(' | ')} |`,
  )
}
const versions = [`Node ${process.version}`, `onnxruntime-node ${ort.env.versions?.common ?? '?'}`]
if (pythonInfo) versions.push(`Python ${pythonInfo.python}, xgboost ${pythonInfo.xgboost}, numpy ${pythonInfo.numpy}`)
console.log(lines.join('\n'))
const asInstalled = results.filter((r) => r.variants.python_as_installed)
if (asInstalled.length > 0) {
  console.log(`\nraw call for xgboost: inplace_predict with "import pandas" short-circuited (sys.modules['pandas'] = None), as with pandas installed.`)
  console.log(`As installed (no pandas: XGBoost 1.7 retries the import, a sys.path search, on every call):\n`)
  console.log('| model | rows / call | inplace_predict as installed: median µs | p99 µs | rows/s | class / that |\n| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of asInstalled) {
    const p = r.variants.python_as_installed
    console.log(`| xgboost \`${r.model}\` | ${r.rows_per_call} | ${fmt(p.median_us)} | ${fmt(p.p99_us)} | ${rate(p.rows_per_s)} | x${r.class_over_python_as_installed.toFixed(3)} |`)
  }
}
console.log(`\n${versions.join('; ')}; ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`)
console.log(`budget ${BUDGET_MS} ms + warm-up ${WARMUP_MS} ms per variant and size, ${SLICES} slices (ABBA)`)
console.log(`timer overhead per call (median, included in the figures): Node ${timer.node_us} µs${timer.python_us === null ? '' : `, Python ${timer.python_us} µs`}`)
console.log(`load average (1, 5, 15 min): before ${loadBefore.map((v) => v.toFixed(2)).join(', ')}; after ${loadAfter.map((v) => v.toFixed(2)).join(', ')}`)
for (const note of notes) console.log(`note: ${note}`)

mkdirSync(dirname(flags.out), { recursive: true })
writeFileSync(
  flags.out,
  `${JSON.stringify(
    {
      started_at: started.toISOString(),
      duration_s: Math.round((Date.now() - started.getTime()) / 100) / 10,
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model.trim(), node: process.version, load_avg_before: loadBefore, load_avg_after: loadAfter },
      versions: { onnxruntime_node: ort.env.versions?.common ?? null, python: pythonInfo && { python: pythonInfo.python, xgboost: pythonInfo.xgboost, numpy: pythonInfo.numpy } },
      settings: { budget_ms: BUDGET_MS, warmup_ms: WARMUP_MS, slices: SLICES, batch: BATCH },
      timer_overhead_us: timer,
      notes,
      results,
    },
    null,
    2,
  )}\n`,
)
console.log(`\nwrote ${flags.out}`)
cleanup()
