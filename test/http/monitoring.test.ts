import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scrape } from '../helpers/metrics.js'
import { runCli } from '../helpers/run-cli.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'
import { normal, seeded } from '../fixtures/monitoring/random.js'

const SCORE_MODULE = fileURLToPath(new URL('../fixtures/monitoring/src/score.ts', import.meta.url))
const THRESHOLD = 0.25
const REQUESTS = 400

let dir: string
let svc: RunningService
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-monitoring-'))
  // The training data: x ~ N(0, 1), y ~ N(5, 1), and the model's output for each row.
  const rand = seeded(2026)
  const rows = Array.from({ length: 3000 }, () => {
    const x = normal(rand)
    const y = 5 + normal(rand)
    return JSON.stringify({ features: { x, y }, output: { score: 2 * x + y } })
  })
  await writeFile(join(dir, 'train.jsonl'), rows.join('\n') + '\n')
  // Both models' version 1 carry the same training statistics, written by `servekit profile`.
  for (const model of ['steady', 'drifting']) {
    await mkdir(join(dir, 'store', model, '1'), { recursive: true })
    const profiled = await runCli(['profile', join(dir, 'train.jsonl'), '--manifest', join(dir, 'store', model, '1', 'model.json')])
    expect(profiled.code, profiled.stderr).toBe(0)
  }
  const config = {
    store: join(dir, 'store'),
    pollIntervalMs: 0,
    models: { steady: { module: SCORE_MODULE }, drifting: { module: SCORE_MODULE } },
    // Checked often so the warning shows within the test; the default is once a minute. Every
    // prediction recorded (no per-second limit), so that counts are exact.
    monitoring: { intervalMs: 200, threshold: THRESHOLD, maxPerSecond: 0 },
    predictionLog: { enabled: false },
  }
  await writeFile(join(dir, 'servekit.config.mjs'), `export default ${JSON.stringify(config)}\n`)
  svc = await startService({ config: join(dir, 'servekit.config.mjs'), workers: 2 })
})
afterAll(async () => {
  expect(await svc?.stop()).toBe(0)
  await rm(dir, { recursive: true, force: true })
})

/** Sends `n` predictions with x ~ N(shift, 1) and y ~ N(5, 1), eight at a time, on fresh connections (so both workers serve some). */
async function send(model: string, shift: number, seed: number, n = REQUESTS): Promise<void> {
  const rand = seeded(seed)
  const bodies = Array.from({ length: n }, () => ({ model_id: model, features: { x: shift + normal(rand), y: 5 + normal(rand) } }))
  for (let i = 0; i < n; i += 8) {
    const results = await Promise.all(bodies.slice(i, i + 8).map((b) => postJson(`${svc.url}/infer`, b, { connection: 'close' })))
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200))
  }
}

async function monitoring(model: string): Promise<any> {
  const res = await fetch(`${svc.url}/models/${model}/monitoring`)
  expect(res.status).toBe(200)
  return res.json()
}

describe('drift monitoring (2 workers)', () => {
  beforeAll(async () => {
    // Fresh samples from the training distribution for one model; x shifted by 1.5 standard deviations for the other.
    await send('steady', 0, 1)
    await send('drifting', 1.5, 2)
  })

  it('keeps the PSI of data from the training distribution below the threshold, merged over every worker', async () => {
    const body = await monitoring('steady')
    expect(body).toMatchObject({ model_id: 'steady', threshold: THRESHOLD, min_count: 100, workers: { total: 2, answered: 2 } })
    const [v] = body.versions
    // Every request counted once, although each worker saw only its own share.
    expect(v).toMatchObject({ model_version: '1', events: REQUESTS, has_reference: true, drifted: [] })
    for (const name of ['x', 'y']) {
      expect(v.features[name]).toMatchObject({ count: REQUESTS, missing_rate: 0, drifted: false })
      expect(v.features[name].psi).toBeLessThan(THRESHOLD)
    }
    expect(v.output).toMatchObject({ field: 'score', count: REQUESTS, drifted: false })
    expect(v.max_psi).toBeLessThan(THRESHOLD)
  })

  it('raises the PSI of a shifted feature (and of the output it drives) above the threshold, not of the unshifted one', async () => {
    const [v] = (await monitoring('drifting')).versions
    expect(v.events).toBe(REQUESTS)
    expect(v.features.x.psi).toBeGreaterThan(THRESHOLD)
    expect(v.features.y.psi).toBeLessThan(THRESHOLD)
    expect(v.output.psi).toBeGreaterThan(THRESHOLD)
    expect(v.drifted).toEqual(['x', '_output'])
    // The live distribution next to the reference: the shift shows in the mean and the median.
    expect(v.features.x.mean - v.features.x.reference.mean).toBeGreaterThan(1)
    expect(v.features.x.quantiles.p50).toBeGreaterThan(1)
  })

  it('exports servekit_drift_psi per model, version and feature', async () => {
    const m = await scrape(svc.url)
    expect(m.get('servekit_drift_psi{model="drifting",version="1",feature="x"}')).toBeGreaterThan(THRESHOLD)
    expect(m.get('servekit_drift_psi{model="drifting",version="1",feature="_output"}')).toBeGreaterThan(THRESHOLD)
    expect(m.get('servekit_drift_psi{model="drifting",version="1",feature="y"}')).toBeLessThan(THRESHOLD)
    expect(m.get('servekit_drift_psi{model="steady",version="1",feature="x"}')).toBeLessThan(THRESHOLD)
  })

  it('logs "drift above threshold" once per check for the drifted feature, from the primary only', async () => {
    const warning = await svc.waitForLog((l) => l.msg === 'drift above threshold' && l['model_id'] === 'drifting' && l['feature'] === 'x')
    expect(warning).toMatchObject({ level: 40, role: 'primary', model_version: '1', threshold: THRESHOLD })
    expect(warning['psi']).toBeGreaterThan(THRESHOLD)
    const drifts = svc.logs.filter((l) => l.msg === 'drift above threshold')
    expect(drifts.filter((l) => l['model_id'] === 'steady' || l['feature'] === 'y')).toEqual([])
    expect(drifts.every((l) => l.role === 'primary')).toBe(true)
  })

  it('answers 404 model_not_found for an unknown model', async () => {
    const res = await fetch(`${svc.url}/models/nope/monitoring`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found')
  })
})
