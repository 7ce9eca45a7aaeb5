import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeScorerArtifact } from '../helpers/control-plane.js'
import { runCli } from '../helpers/run-cli.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

const SCORER = fileURLToPath(new URL('../fixtures/control-plane/scorer.ts', import.meta.url))
const TOKEN = 'test-admin-token-0123456789'

let dir: string
let config: string
let svc: RunningService
const env = { SERVEKIT_ADMIN_TOKEN: TOKEN }

/** Publishes through the real CLI, as a modeller would. */
async function publish(opts: Parameters<typeof writeScorerArtifact>[1], version?: string): Promise<void> {
  const src = await writeScorerArtifact(join(dir, `src-${Math.random().toString(36).slice(2)}`), opts)
  const res = await runCli(['publish', src, '--model', 'scorer', '--config', config, ...(version ? ['--version', version] : [])])
  expect(res.stderr).toBe('')
  expect(res.code).toBe(0)
}

const models = async () => ((await (await fetch(`${svc.url}/models`)).json()) as any).models[0]
const infer = (body: Record<string, unknown>) => postJson(`${svc.url}/infer`, { model_id: 'scorer', features: { x: 1 }, ...body })

/** Polls GET /models until `pred` holds on several answers in a row (both workers answered). */
async function until(pred: (m: any) => boolean, what: string): Promise<any> {
  const deadline = Date.now() + 20_000
  let streak = 0
  let last: any
  while (Date.now() < deadline) {
    last = await models()
    streak = pred(last) ? streak + 1 : 0
    if (streak >= 6) return last
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}; last /models: ${JSON.stringify(last)}`)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-control-'))
  config = join(dir, 'servekit.config.mjs')
  await writeFile(
    config,
    `export default ${JSON.stringify({ store: './store', pollIntervalMs: 200, models: { scorer: { module: SCORER } }, server: { workers: 2 }, admin: { token: TOKEN } })}\n`,
  )
  await publish({ offset: 100 })
  svc = await startService({ config, workers: 2 })
})

afterAll(async () => {
  expect(await svc?.stop()).toBe(0)
  await rm(dir, { recursive: true, force: true })
})

describe('hot deploys', () => {
  it('switches to a newly published version under load with zero failed requests', async () => {
    expect((await infer({})).body).toMatchObject({ output: 101, model_version: '1' })
    const total = 2000
    const clients = 8
    let sent = 0
    let published = false
    const seen: Array<{ status: number; version: string; output: number }> = []
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (sent < total) {
          sent++
          const res = await infer({})
          seen.push({ status: res.status, version: res.body.model_version, output: res.body.output })
          if (!published && seen.length >= 300) {
            published = true
            await publish({ offset: 200 })
          }
          // Once v2 answers, the remaining budget shows it stays (and is spread over both workers).
        }
      }),
    )
    expect(seen).toHaveLength(total)
    expect(seen.filter((r) => r.status !== 200)).toEqual([])
    // Every answer is internally consistent: v1 adds 100, v2 adds 200.
    expect(seen.every((r) => (r.version === '1' && r.output === 101) || (r.version === '2' && r.output === 201))).toBe(true)
    expect(seen.some((r) => r.version === '2')).toBe(true)
    await until((m) => m.default_version === '2', 'v2 to serve on every worker')
    // v1 was retired (policy "latest") once its requests drained.
    expect((await models()).versions.map((v: any) => v.version)).toEqual(['2'])
  })

  it('never swaps in a corrupt artifact; the old version keeps serving and /models shows the failure', async () => {
    await publish({ offset: 300, corrupt: true }, '3')
    const m = await until((m) => m.versions.some((v: any) => v.version === '3' && v.status === 'failed'), 'v3 to fail')
    expect(m.default_version).toBe('2')
    expect(m.versions.find((v: any) => v.version === '3').error).toContain('params.json is not valid JSON')
    expect((await infer({})).body).toMatchObject({ output: 201, model_version: '2' })
  })

  it('never swaps in a version that fails its self-test', async () => {
    await publish({ offset: 400, expected: 999 }, '4')
    const m = await until((m) => m.versions.some((v: any) => v.version === '4' && v.status === 'failed'), 'v4 to fail')
    expect(m.versions.find((v: any) => v.version === '4').error).toMatch(/scorer@4 self-test failed: 1 of 1 cases \(x=1: output: expected 999, got 401\)/)
    expect((await infer({})).body.model_version).toBe('2')
  })

  it('refuses a version that rejects the features clients send today, naming the field', async () => {
    // Its own self-test sends age, so it passes; what clients send today (the serving version's cases) does not.
    await publish({ offset: 500, required: ['x', 'age'], features: { x: 1, age: 30 } }, '5')
    const m = await until((m) => m.versions.some((v: any) => v.version === '5' && v.status === 'failed'), 'v5 to be refused')
    expect(m.versions.find((v: any) => v.version === '5').error).toContain('scorer@5 rejects features that scorer@2 accepts: x=1: features.age')
    expect((await infer({})).body.model_version).toBe('2')
  })
})

describe('management API', () => {
  it('refuses a missing or wrong token with 401 and changes nothing', async () => {
    const none = await fetch(`${svc.url}/admin/models/scorer/rollback`, { method: 'POST' })
    expect(none.status).toBe(401)
    expect(((await none.json()) as any).error.code).toBe('unauthorized')
    const wrong = await fetch(`${svc.url}/admin/models/scorer/rollback`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}x` } })
    expect(wrong.status).toBe(401)
    expect((await models()).default_version).toBe('2')
  })

  it('lists models with the versions in the store', async () => {
    const res = await runCli(['models', 'list', '--url', svc.url, '--json'], { env })
    expect(res.code).toBe(0)
    const body = JSON.parse(res.stdout)
    expect(body.models[0]).toMatchObject({ model_id: 'scorer', default_version: '2', store_versions: ['1', '2', '3', '4', '5'] })
  })

  it('rolls back to the previous good version with `servekit models rollback`, on every worker', async () => {
    const res = await runCli(['models', 'rollback', 'scorer', '--url', svc.url], { env })
    expect(res.stderr).toBe('')
    expect(res.stdout).toContain('scorer  ready  default 1')
    await until((m) => m.default_version === '1', 'rollback to reach both workers')
    const answers = await Promise.all(Array.from({ length: 20 }, () => infer({})))
    expect(answers.map((a) => a.body.model_version)).toEqual(Array(20).fill('1'))
  })

  it('deploys a named version with `servekit models deploy`, and refuses a broken one', async () => {
    const bad = await runCli(['models', 'deploy', 'scorer@4', '--url', svc.url], { env })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('servekit: self_test_failed: scorer@4 self-test failed')
    const good = await runCli(['models', 'deploy', 'scorer@2', '--url', svc.url], { env })
    expect(good.code).toBe(0)
    await until((m) => m.default_version === '2', 'deploy of v2')
  })

  it('serves a version loaded beside the default to requests that name it, and an alias', async () => {
    expect((await infer({ model_version: '1' })).status).toBe(404)
    const load = await runCli(['models', 'load', 'scorer@1', '--url', svc.url], { env })
    expect(load.code).toBe(0)
    await until((m) => m.versions.some((v: any) => v.version === '1' && v.status === 'loaded'), 'v1 loaded beside v2')
    expect((await infer({ model_version: '1' })).body).toMatchObject({ output: 101, model_version: '1' })
    expect((await postJson(`${svc.url}/infer`, { model_id: 'scorer@1', features: { x: 1 } })).body).toMatchObject({ model_id: 'scorer', model_version: '1' })
    expect((await infer({})).body.model_version).toBe('2')
    const alias = await fetch(`${svc.url}/admin/models/scorer/aliases/stable`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ version: '1' }) })
    expect(alias.status).toBe(200)
    await until((m) => m.aliases.stable === '1', 'alias on both workers')
    expect((await infer({ model_version: 'stable' })).body.model_version).toBe('1')
    const unknown = await infer({ model_version: 'nope' })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('version_not_found')
  })

  it('keeps the rollback after a restart, because the serving state lives in the store', async () => {
    await runCli(['models', 'rollback', 'scorer', '--to', '1', '--url', svc.url], { env })
    await until((m) => m.default_version === '1', 'rollback to 1')
    expect(await svc.stop()).toBe(0)
    svc = await startService({ config, workers: 1 })
    expect((await infer({})).body.model_version).toBe('1')
  })
})
