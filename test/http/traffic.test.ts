import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scrape } from '../helpers/metrics.js'
import { startService, type RunningService } from '../helpers/start-service.js'

// One worker, so per-worker limits (concurrency, queue) are exact; the store is a copy, since the
// admin API writes serving.json into it.
const FIXTURE = fileURLToPath(new URL('../fixtures/traffic/', import.meta.url))
const TOKEN = 'traffic-admin-token-0123456789'
const src = (file: string) => join(FIXTURE, 'src', file)

const config = {
  store: './models',
  pollIntervalMs: 0,
  admin: { token: TOKEN },
  server: { workers: 1 },
  models: {
    ab: { module: src('tagged.ts'), versions: ['3', '4'], experiment: { weights: { '3': 90, '4': 10 }, key: 'user_id' } },
    plain: { module: src('twin.ts') },
    shadowed: { module: src('twin.ts'), shadow: [{ model: 'explodes', sampleRate: 1 }, { model: 'sleeper', sampleRate: 1 }] },
    agree: { module: src('twin.ts'), versions: ['1', '2'], default: '1', shadow: [{ version: '2', sampleRate: 1 }] },
    explodes: { module: src('explodes.ts') },
    sleeper: { module: src('sleeper.ts'), timeoutMs: 5000 },
    batched: { module: src('batched.ts'), batching: { maxBatchSize: 8, maxDelayMs: 50 } },
    hang: { module: src('sleepy.ts'), timeoutMs: 300 },
    narrow: { module: src('sleepy.ts'), timeoutMs: 10_000, concurrency: { max: 1, queue: 1 } },
  },
}

let dir: string
let svc: RunningService
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-traffic-'))
  await cp(join(FIXTURE, 'models'), join(dir, 'models'), { recursive: true })
  await writeFile(join(dir, 'servekit.config.mjs'), `export default ${JSON.stringify(config)}\n`)
  svc = await startService({ config: join(dir, 'servekit.config.mjs'), workers: 1 })
})
afterAll(async () => {
  expect(await svc?.stop()).toBe(0)
  await rm(dir, { recursive: true, force: true })
})

const infer = (body: Record<string, unknown>) =>
  fetch(`${svc.url}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({
    status: r.status,
    headers: r.headers,
    body: (await r.json()) as any,
  }))

/**
 * A request on its own connection that the test can drop (node:http rather than fetch: after an
 * abort, fetch's pool opens a fresh connection and sends nothing on it, which holds up shutdown).
 */
function droppable(body: Record<string, unknown>): { answered: Promise<string>; drop(): void } {
  const req = request(`${svc.url}/infer`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } })
  const answered = new Promise<string>((resolve) => {
    req.on('response', (res) => resolve(`status ${res.statusCode}`))
    req.on('error', () => resolve('dropped'))
  })
  req.end(JSON.stringify(body))
  return { answered, drop: () => req.destroy() }
}
const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${svc.url}/admin/models/${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })

/** Sends `n` requests, `concurrency` at a time. */
async function many<T>(n: number, concurrency: number, send: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n)
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++
        out[i] = await send(i)
      }
    }),
  )
  return out
}

/** Scrapes /metrics until `pred` holds (shadows finish after their responses). */
async function metricsUntil(pred: (m: Map<string, number>) => boolean, what: string): Promise<Map<string, number>> {
  const deadline = Date.now() + 20_000
  let m = await scrape(svc.url)
  while (!pred(m)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
    m = await scrape(svc.url)
  }
  return m
}

describe('experiments', () => {
  it('splits 2000 requests 90/10 within a few percent, and names the arm that served', async () => {
    const answers = await many(2000, 16, (i) => infer({ model_id: 'ab', features: { user_id: `user-${i}`, x: i } }))
    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    for (const a of answers) expect(a.body.output.tag).toBe(a.body.arm === '3' ? 'v3' : 'v4')
    const share = answers.filter((a) => a.body.arm === '3').length / answers.length
    expect(share).toBeGreaterThan(0.87)
    expect(share).toBeLessThan(0.93)
  })

  it('gives the same key the same arm every time, by feature or by experiment_key', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const arms = await many(20, 4, () => infer({ model_id: 'ab', features: { user_id: user } }))
      expect(new Set(arms.map((a) => a.body.arm)).size).toBe(1)
    }
    // experiment_key wins over the feature: the same experiment_key with different users, one arm.
    const byKey = await many(20, 4, (i) => infer({ model_id: 'ab', features: { user_id: `u${i}` }, experiment_key: 'session-7' }))
    expect(new Set(byKey.map((a) => a.body.arm)).size).toBe(1)
  })

  it('leaves requests that name a version out of the experiment (no arm)', async () => {
    const res = await infer({ model_id: 'ab', model_version: '4', features: { user_id: 'alice' } })
    expect(res.body).toEqual({ output: { tag: 'v4', x: null }, model_id: 'ab', model_version: '4', request_id: expect.any(String) })
    expect('arm' in res.body).toBe(false)
    expect((await infer({ model_id: 'ab@3', features: {} })).body).toMatchObject({ output: { tag: 'v3' }, model_version: '3' })
  })

  it('changes weights through the admin API without a restart, and back to the config on DELETE', async () => {
    const put = await admin('PUT', 'ab/experiment', { weights: { '3': 0, '4': 1 } })
    expect(put.status).toBe(200)
    expect(((await put.json()) as any).experiment).toEqual({ weights: { '3': 0, '4': 1 }, key: 'user_id' })
    const after = await many(50, 8, (i) => infer({ model_id: 'ab', features: { user_id: `user-${i}` } }))
    expect(after.map((a) => a.body.arm)).toEqual(Array(50).fill('4'))
    expect((await admin('DELETE', 'ab/experiment')).status).toBe(200)
    const back = await many(200, 8, (i) => infer({ model_id: 'ab', features: { user_id: `user-${i}` } }))
    expect(back.filter((a) => a.body.arm === '3').length).toBeGreaterThan(150)
  })

  it('refuses weights that sum to 0 or name a version that is not in the store', async () => {
    const zero = await admin('PUT', 'ab/experiment', { weights: { '3': 0 } })
    expect(zero.status).toBe(400)
    const missing = await admin('PUT', 'ab/experiment', { weights: { '3': 1, '9': 1 } })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as any).error.code).toBe('version_not_found')
  })
})

describe('shadow traffic', () => {
  it('a shadow that throws or sleeps 2 s changes neither the output nor the latency of the primary', async () => {
    const timed = async (model: string, x: number) => {
      const t0 = performance.now()
      const res = await infer({ model_id: model, features: { x } })
      return { ms: performance.now() - t0, status: res.status, output: res.body.output }
    }
    const plain: Array<{ ms: number; output: unknown }> = []
    const shadowed: Array<{ ms: number; output: unknown; status: number }> = []
    // Interleaved, so both runs see the same machine.
    for (let x = 0; x < 20; x++) {
      plain.push(await timed('plain', x))
      shadowed.push(await timed('shadowed', x))
    }
    expect(shadowed.map((s) => s.status)).toEqual(Array(20).fill(200))
    expect(shadowed.map((s) => s.output)).toEqual(plain.map((p) => p.output))
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    // Generous bounds: the sleeping shadow alone would add 2000 ms to each request it delayed.
    expect(median(shadowed.map((s) => s.ms))).toBeLessThan(median(plain.map((p) => p.ms)) + 50)
    expect(Math.max(...shadowed.map((s) => s.ms))).toBeLessThan(1000)

    const m = await metricsUntil((m) => m.get('servekit_shadow_duration_seconds_count{model="shadowed",target="sleeper"}') === 20, 'the sleeping shadows to finish')
    expect(m.get('servekit_shadow_errors_total{model="shadowed",target="explodes"}')).toBe(20)
    expect(m.get('servekit_shadow_agreement_total{model="shadowed",target="sleeper",agreed="false"}')).toBe(20)
    expect(m.get('servekit_shadow_dropped_total{model="shadowed"}') ?? 0).toBe(0)
  })

  it('counts agreement with another version within tolerance', async () => {
    // agree@2 adds 1e-9 up to x = 5 (agrees) and 1 above (disagrees).
    for (let x = 1; x <= 10; x++) expect((await infer({ model_id: 'agree', features: { x } })).body).toMatchObject({ output: 2 * x, model_version: '1' })
    const m = await metricsUntil((m) => m.get('servekit_shadow_duration_seconds_count{model="agree",target="agree@2"}') === 10, 'the version shadows')
    expect(m.get('servekit_shadow_agreement_total{model="agree",target="agree@2",agreed="true"}')).toBe(5)
    expect(m.get('servekit_shadow_agreement_total{model="agree",target="agree@2",agreed="false"}')).toBe(5)
  })
})

describe('dynamic batching', () => {
  it('groups concurrent requests into predictBatch calls, each request with its own result or error', async () => {
    const before = await scrape(svc.url)
    const sends = Array.from({ length: 24 }, (_, x) => infer({ model_id: 'batched', features: { x } }))
    const bad = infer({ model_id: 'batched', features: { x: 'not a number' } })
    const answers = await Promise.all(sends)
    answers.forEach((a, x) => {
      expect(a.status).toBe(200)
      expect(a.body.output.y).toBe(2 * x)
    })
    expect(Math.max(...answers.map((a) => a.body.output.batch_size))).toBeGreaterThan(1)
    const invalid = await bad
    expect(invalid.status).toBe(400)
    expect(invalid.body.error).toMatchObject({ code: 'invalid_request', field: 'features.x' })

    const m = await scrape(svc.url)
    const calls = (m.get('servekit_batch_size_count{model="batched"}') ?? 0) - (before.get('servekit_batch_size_count{model="batched"}') ?? 0)
    const items = (m.get('servekit_batch_size_sum{model="batched"}') ?? 0) - (before.get('servekit_batch_size_sum{model="batched"}') ?? 0)
    expect(items).toBe(25)
    expect(calls).toBeLessThan(25)
  })

  it('answers a lone request after at most maxDelayMs, in a batch of one', async () => {
    const res = await infer({ model_id: 'batched', features: { x: 21 } })
    expect(res.body.output).toEqual({ y: 42, batch_size: 1 })
  })
})

describe('timeouts and load shedding', () => {
  it('answers 504 prediction_timeout and aborts the model, while other models keep serving', async () => {
    const slow = infer({ model_id: 'hang', features: { ms: 5000, tag: 't1' } })
    await svc.waitForStderr((l) => l === 'traffic:start t1')
    expect((await infer({ model_id: 'plain', features: { x: 1 } })).status).toBe(200)
    const res = await slow
    expect(res.status).toBe(504)
    expect(res.body.error.code).toBe('prediction_timeout')
    await svc.waitForStderr((l) => l === 'traffic:aborted t1')
  })

  it('answers 503 overloaded with Retry-After beyond concurrency and queue, while other models keep serving', async () => {
    const first = infer({ model_id: 'narrow', features: { ms: 1000, tag: 'o1' } })
    await svc.waitForStderr((l) => l === 'traffic:start o1')
    const queued = infer({ model_id: 'narrow', features: { ms: 0, tag: 'o2' } })
    await queueDepth('narrow', 1)
    const refused = await infer({ model_id: 'narrow', features: { ms: 0, tag: 'o3' } })
    expect(refused.status).toBe(503)
    expect(refused.body.error.code).toBe('overloaded')
    // narrow's timeout is 10 s: within it, every request ahead of a queued one has ended.
    expect(refused.headers.get('retry-after')).toBe('10')
    expect((await infer({ model_id: 'plain', features: { x: 1 } })).status).toBe(200)
    expect((await first).status).toBe(200)
    expect((await queued).status).toBe(200)
  })

  it('takes a request whose client disconnected out of the queue, and aborts a running one', async () => {
    const first = infer({ model_id: 'narrow', features: { ms: 1000, tag: 'd1' } })
    await svc.waitForStderr((l) => l === 'traffic:start d1')
    const abandoned = droppable({ model_id: 'narrow', features: { ms: 0, tag: 'd2' } })
    await queueDepth('narrow', 1)
    abandoned.drop()
    expect(await abandoned.answered).toBe('dropped')
    // d2 left the queue: the next request takes its place (not 503), and d2 never runs.
    await queueDepth('narrow', 0)
    const after = infer({ model_id: 'narrow', features: { ms: 0, tag: 'd3' } })
    expect((await first).status).toBe(200)
    expect((await after).status).toBe(200)
    expect(svc.stderr).toContain('traffic:start d3')
    expect(svc.stderr).not.toContain('traffic:start d2')

    const running = droppable({ model_id: 'narrow', features: { ms: 8000, tag: 'd5' } })
    await svc.waitForStderr((l) => l === 'traffic:start d5')
    running.drop()
    expect(await running.answered).toBe('dropped')
    await svc.waitForStderr((l) => l === 'traffic:aborted d5')
  })
})

const queueDepth = (model: string, n: number) => metricsUntil((m) => (m.get(`servekit_requests_queued{model="${model}"}`) ?? 0) === n, `${n} queued requests on ${model}`)
