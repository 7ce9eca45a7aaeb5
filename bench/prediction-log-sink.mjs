#!/usr/bin/env node
// What the prediction log costs per event, without HTTP: `node bench/prediction-log-sink.mjs`
// (after `npm run build`).
//
// In one process, parses the bench's request bodies (bench/service/requests) and records an event
// for each, as the data plane does, N times; once with nothing recorded (the baseline: parsing and
// building the event) and once through PredictionLog into the JSONL sink, in a temporary directory,
// with the body's text as the data plane gives it (the features are copied from it).
// The difference in CPU time (user + system) per event is the prediction log's own cost: encoding,
// buffering, writing, and the garbage it leaves. Rounds alternate; the median is printed. See
// docs/performance.md.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from './lib/processes.mjs'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const { values: flags } = parseArgs({ options: { events: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' }, dir: { type: 'string', default: tmpdir() } } })
const N = Number(flags.events)
const { PredictionLog } = await import(join(ROOT, 'dist/observe/prediction-log.js'))
const { JsonlFileSink } = await import(join(ROOT, 'dist/observe/sinks/jsonl-file-sink.js'))
const { predictionEvent } = await import(join(ROOT, 'dist/traffic/record.js'))

/** CPU µs per event of parsing `text` and, when `log` is given, recording its event there. */
async function run(text, log) {
  const c0 = process.cpuUsage()
  for (let i = 0; i < N; i++) {
    const body = JSON.parse(text)
    const event = predictionEvent({ requestId: `bench-${i}`, modelId: body.model_id, features: body.features }, { modelId: body.model_id, modelVersion: '1', output: 0.25 }, Date.now(), 0.0125, [])
    if (log) log.record(event, text)
    // Yield now and then, as a server does between requests: the log's timers and writes run.
    if ((i & 255) === 255) await new Promise((r) => setImmediate(r))
  }
  if (log) await log.close()
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / N
}

for (const model of ['sum', 'tabular']) {
  const text = readFileSync(join(ROOT, `bench/service/requests/${model}.json`), 'utf8')
  const base = []
  const logged = []
  for (let r = 0; r < Number(flags.rounds); r++) {
    base.push(await run(text, undefined))
    const dir = mkdtempSync(join(flags.dir, 'servekit-plog-bench-'))
    try {
      const log = new PredictionLog({ sink: new JsonlFileSink({ dir, maxBytes: 1 << 30, maxAgeMs: 3_600_000 }), sinkName: 'jsonl', sampleRate: 1, bufferSize: N, maxBatch: 1000, flushIntervalMs: 1000, retries: 0 })
      logged.push(await run(text, log))
      if (log.stats().written !== N) throw new Error(`expected ${N} events written, got ${JSON.stringify(log.stats())}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const [b, l] = [median(base), median(logged)]
  console.log(`${model.padEnd(8)} parse + event ${b.toFixed(2)} µs; with the JSONL prediction log ${l.toFixed(2)} µs; the log's own cost ${(l - b).toFixed(2)} µs CPU per event (median of ${flags.rounds} rounds of ${N})`)
}
