import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeScorerArtifact } from '../helpers/control-plane.js'
import { runCli } from '../helpers/run-cli.js'
import { startS3Server, type S3Server } from '../helpers/s3-server.js'
import { postJson, startService, type RunningService } from '../helpers/start-service.js'

const SCORER = fileURLToPath(new URL('../fixtures/control-plane/scorer.ts', import.meta.url))

let s3: S3Server
let dir: string
let config: string
let svc: RunningService | undefined

beforeAll(async () => {
  s3 = await startS3Server()
  dir = await mkdtemp(join(tmpdir(), 'servekit-s3-service-'))
  config = join(dir, 'servekit.config.mjs')
  const store = { type: 's3', bucket: s3.bucket, prefix: 'ml/models/', endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', cacheDir: './cache' }
  await writeFile(config, `export default ${JSON.stringify({ store, pollIntervalMs: 200, models: { scorer: { module: SCORER } } })}\n`)
})

afterAll(async () => {
  await svc?.stop()
  await s3.close()
  await rm(dir, { recursive: true, force: true })
})

const publish = async (offset: number) => {
  const src = await writeScorerArtifact(join(dir, `src-${offset}`), { offset })
  return runCli(['publish', src, '--model', 'scorer', '--config', config], { env: s3.env })
}

describe('S3 model store (s3rver on 127.0.0.1)', () => {
  it('publishes a version to the bucket', async () => {
    const res = await publish(100)
    expect(res.code).toBe(0)
    expect(res.stdout).toBe(`published scorer@1 to s3://${s3.bucket}/ml/models/\n`)
  })

  it('serves a version downloaded from the bucket', async () => {
    svc = await startService({ config, workers: 2, env: s3.env })
    const res = await postJson(`${svc.url}/infer`, { model_id: 'scorer', features: { x: 1 } })
    expect(res.body).toMatchObject({ output: 101, model_version: '1' })
  })

  it('hot-deploys a version published to the bucket while serving', async () => {
    expect((await publish(200)).code).toBe(0)
    const deadline = Date.now() + 20_000
    const versions = new Set<string>()
    let failed = 0
    // Bounded: at most 20 s of sequential requests until both workers answer with v2 in a row.
    let streak = 0
    while (Date.now() < deadline && streak < 10) {
      const res = await postJson(`${svc!.url}/infer`, { model_id: 'scorer', features: { x: 1 } })
      if (res.status !== 200) failed++
      versions.add(res.body.model_version)
      streak = res.body.model_version === '2' ? streak + 1 : 0
    }
    expect(failed).toBe(0)
    expect(streak).toBe(10)
    const res = await postJson(`${svc!.url}/infer`, { model_id: 'scorer', features: { x: 1 } })
    expect(res.body).toMatchObject({ output: 201, model_version: '2' })
  })
})
