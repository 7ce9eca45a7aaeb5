import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, ROOT, startService, type RunningService } from '../helpers/start-service.js'
import { scrape } from '../helpers/metrics.js'
import { report } from './load-client.js'

// Model code that fails inside the worker without killing it: throws, returns what JSON cannot
// carry (undefined, NaN, a deep BigInt, a cycle), never settles, or fails to load. Each gets its
// documented error; the worker keeps serving; nothing leaks a stack or a path.

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))
const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/faulty/', import.meta.url))

let svc: RunningService
beforeAll(async () => {
  svc = await startService({ config: CONFIG, workers: 2 })
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

const infer = (model_id: string, features: unknown = {}) => postJson(`${svc.url}/infer`, { model_id, features })
const results: Array<{ fault: string; status: number; code: string }> = []

async function expectStillServing(): Promise<void> {
  const after = await Promise.all(Array.from({ length: 6 }, () => infer('ok', { x: 1 })))
  expect(after.map((r) => r.status)).toEqual(Array(6).fill(200))
}

function expectNoLeaks(body: unknown): void {
  const text = JSON.stringify(body)
  expect(text).not.toMatch(/\n\s+at |\bat [\w.<>]+ \(/) // stack frames
  expect(text).not.toContain(ROOT.replace(/\/$/, ''))
  expect(text).not.toContain('node_modules')
}

describe('faulty model code inside a worker', () => {
  it.each([
    ['throws', 'predict throws', 500, 'prediction_failed'],
    ['leaky_error', 'predict throws an error naming a file path', 500, 'prediction_failed'],
    ['undef', 'predict returns undefined', 500, 'invalid_output'],
    ['nan', 'predict returns NaN', 500, 'invalid_output'],
    ['nan_deep', 'predict returns NaN inside an object', 500, 'invalid_output'],
    ['bigint_deep', 'predict returns a BigInt deep in an object', 500, 'invalid_output'],
    ['cycle', 'predict returns a cyclic object', 500, 'invalid_output'],
    ['hang', 'predict never settles (timeoutMs 500)', 504, 'prediction_timeout'],
    ['load_throws', 'load throws', 503, 'not_ready'],
    ['no_versions', 'the store has no version', 503, 'not_ready'],
  ])('%s (%s): %i %s, no stack or path, and the worker keeps serving', async (model, fault, status, code) => {
    const res = await infer(model)
    expect(res.status).toBe(status)
    expect(res.body.error.code).toBe(code)
    expectNoLeaks(res.body)
    results.push({ fault, status: res.status, code: res.body.error.code })
    await expectStillServing()
  })

  it('names where a deep BigInt, NaN or cycle sits in the output', async () => {
    expect((await infer('bigint_deep')).body.error.message).toContain('output.scores[0].count')
    expect((await infer('nan_deep')).body.error.message).toContain('NaN at output.scores[1]')
    expect((await infer('cycle')).body.error.message).toContain('a cycle at output.parent.child')
  })

  it('cuts file paths from server-side messages to their last segment', async () => {
    const thrown = await infer('leaky_error')
    expect(thrown.body.error.message).toContain("open '…/lookup.json'")
    const store = await infer('no_versions')
    expect(store.body.error.message).toContain('in the model store …/models')
    // The logs keep the whole path for operators.
    expect(svc.logs.some((l) => JSON.stringify(l).includes(`${FIXTURE_DIR}src/weights/lookup.json`))).toBe(true)
  })

  it('keeps paths out of GET /models too', async () => {
    const res = await fetch(`${svc.url}/models`)
    const text = await res.text()
    expect(text).toContain('…/models')
    expect(text).not.toContain(FIXTURE_DIR)
  })

  it('in a batch, a bad output fails its own item with invalid_output', async () => {
    for (const model of ['bigint_deep', 'cycle', 'nan', 'undef']) {
      const res = await postJson(`${svc.url}/infer/batch`, { model_id: model, instances: [{}, {}] })
      expect(res.status).toBe(200)
      expect(res.body.results.map((r: any) => r.error.code)).toEqual(['invalid_output', 'invalid_output'])
    }
  })

  it('a hanging predict answers 504 at its timeout while other models answer at once', async () => {
    const hanging = Promise.all(Array.from({ length: 4 }, () => infer('hang')))
    await expectStillServing()
    const answers = await hanging
    expect(answers.map((r) => [r.status, r.body.error.code])).toEqual(Array(4).fill([504, 'prediction_timeout']))
  })

  it('a model whose load throws leaves the others ready; /ready names it', async () => {
    const ready = (await (await fetch(`${svc.url}/ready`)).json()) as { status: string; models: Record<string, string> }
    expect(ready.status).toBe('not_ready')
    expect(ready.models).toMatchObject({ load_throws: 'failed', no_versions: 'failed', ok: 'ready', throws: 'ready', hang: 'ready' })
  })

  it('lost no worker to any of it, and counted the errors by code', async () => {
    expect(svc.logs.filter((l) => l.msg === 'worker died; restarting it')).toEqual([])
    const m = await scrape(svc.url)
    expect(m.get('servekit_worker_restarts_total{reason="crash"}')).toBe(0)
    expect(m.get('servekit_requests_total{model="hang",version="",code="504"}')).toBeGreaterThanOrEqual(5)
    await report('faulty-models', { faults: results, worker_restarts: 0 })
  })
})
