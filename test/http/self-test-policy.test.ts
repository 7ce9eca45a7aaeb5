import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeScorerArtifact } from '../helpers/control-plane.js'
import { scrape } from '../helpers/metrics.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

const SCORER = fileURLToPath(new URL('../fixtures/control-plane/scorer.ts', import.meta.url))
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-selftest-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A service over its own store with v1 good; `selfTest` is the policy under test. */
async function serviceWith(selfTest: 'block' | 'warn'): Promise<{ svc: RunningService; store: string }> {
  const store = join(dir, selfTest)
  await writeScorerArtifact(join(store, 'scorer', '1'), { offset: 10 })
  const config = join(dir, `${selfTest}.config.mjs`)
  await writeFile(config, `export default ${JSON.stringify({ store, pollIntervalMs: 100, models: { scorer: { module: SCORER, selfTest } } })}\n`)
  return { svc: await startService({ config, workers: 2 }), store }
}

async function waitForVersion2(svc: RunningService): Promise<any> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const m = ((await (await fetch(`${svc.url}/models`)).json()) as any).models[0]
    if (m.versions.some((v: any) => v.version === '2')) return m
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('version 2 never appeared on /models')
}

describe('self-test policy on hot deploys', () => {
  it('block: a version failing its self-test is not served, and metrics count the refusal', async () => {
    const { svc, store } = await serviceWith('block')
    try {
      await writeScorerArtifact(join(store, 'scorer', '.tmp'), { offset: 20, expected: -1 })
      await import('node:fs/promises').then((fs) => fs.rename(join(store, 'scorer', '.tmp'), join(store, 'scorer', '2')))
      const m = await waitForVersion2(svc)
      expect(m.default_version).toBe('1')
      expect(m.versions.find((v: any) => v.version === '2')).toMatchObject({ status: 'failed', error: expect.stringContaining('self-test failed') })
      expect((await postJson(`${svc.url}/infer`, { model_id: 'scorer', features: { x: 1 } })).body.model_version).toBe('1')
      expect((await fetch(`${svc.url}/ready`)).status).toBe(200)
      const metrics = await scrape(svc.url)
      expect(metrics.get('servekit_model_load_failures_total{model="scorer",reason="self_test"}')).toBeGreaterThanOrEqual(1)
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })

  it('warn: a version failing its self-test is served, loudly: /models and metrics show the failure', async () => {
    const { svc, store } = await serviceWith('warn')
    try {
      await writeScorerArtifact(join(store, 'scorer', '.tmp'), { offset: 20, expected: -1 })
      await import('node:fs/promises').then((fs) => fs.rename(join(store, 'scorer', '.tmp'), join(store, 'scorer', '2')))
      let m = await waitForVersion2(svc)
      const deadline = Date.now() + 10_000
      while (m.default_version !== '2' && Date.now() < deadline) m = ((await (await fetch(`${svc.url}/models`)).json()) as any).models[0]
      expect(m.default_version).toBe('2')
      expect(m.versions.find((v: any) => v.version === '2').self_test).toMatchObject({ status: 'failed', cases: 1, failed: 1, failures: [{ name: 'x=1', expected: -1, got: 21 }] })
      const metrics = await scrape(svc.url)
      expect(metrics.get('servekit_self_test_passed{model="scorer",version="2"}')).toBe(0)
      expect(metrics.get('servekit_self_test_cases{model="scorer",version="2",outcome="failed"}')).toBe(1)
      expect(svc.logs.some((l) => l.level === 40 && String(l.msg).includes('scorer@2 self-test failed') && String(l.msg).includes('serving it anyway'))).toBe(true)
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })
})
