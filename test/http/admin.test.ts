import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeScorerArtifact } from '../helpers/control-plane.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

const SCORER = fileURLToPath(new URL('../fixtures/control-plane/scorer.ts', import.meta.url))
const TOKEN = 'separate-port-token-0123456789'
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-admin-'))
  await writeScorerArtifact(join(dir, 'store', 'scorer', '1'), { offset: 1 })
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function serviceWith(admin: Record<string, unknown>): Promise<RunningService> {
  const config = join(dir, `servekit-${Math.random().toString(36).slice(2)}.config.mjs`)
  await writeFile(config, `export default ${JSON.stringify({ store: './store', pollIntervalMs: 0, models: { scorer: { module: SCORER } }, admin })}\n`)
  return startService({ config, workers: 1, env: { SERVEKIT_ADMIN_TOKEN: '' } })
}

describe('admin API placement', () => {
  it('is off without a token: /admin answers 404 saying how to turn it on', async () => {
    const svc = await serviceWith({})
    try {
      const res = await fetch(`${svc.url}/admin/models`, { headers: { authorization: 'Bearer anything-at-all-here' } })
      expect(res.status).toBe(404)
      expect(((await res.json()) as any).error.message).toContain('admin API is disabled')
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })

  it('can listen on its own port (127.0.0.1 by default), leaving the data plane without /admin', async () => {
    const svc = await serviceWith({ token: TOKEN, port: 0 })
    try {
      const listening = svc.logs.find((l) => l.msg.startsWith('servekit listening'))!
      const adminUrl = listening['admin_address'] as string
      expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(adminUrl).not.toBe(svc.url)
      const onAdmin = await fetch(`${adminUrl}/admin/models`, { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(onAdmin.status).toBe(200)
      expect(((await onAdmin.json()) as any).models[0].model_id).toBe('scorer')
      expect((await fetch(`${svc.url}/admin/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404)
      // The admin port serves no predictions.
      expect((await postJson(`${adminUrl}/infer`, { model_id: 'scorer', features: {} })).status).toBe(404)
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })
})
