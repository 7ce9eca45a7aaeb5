import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { manifestSchema } from '../../src/store/manifest.js'
import { runCli } from '../helpers/run-cli.js'
import { normal, seeded } from '../fixtures/monitoring/random.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-profile-'))
  const rand = seeded(17)
  // 1000 rows: x ~ N(0,1), y ~ N(10,2) missing from every 4th row, a string feature, and an object output.
  const rows = Array.from({ length: 1000 }, (_, i) => {
    const x = normal(rand)
    const features: Record<string, unknown> = { x, city: 'Paris' }
    if (i % 4 !== 0) features['y'] = 10 + 2 * normal(rand)
    return JSON.stringify({ features, output: { label: x > 0 ? 'hi' : 'lo', score: 2 * x } })
  })
  await writeFile(join(dir, 'rows.jsonl'), rows.join('\n') + '\n')
  await writeFile(join(dir, 'bare.jsonl'), '{"a": 1, "b": 2}\n\n{"a": 3}\n[5, 6]\n')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('servekit profile', () => {
  it('writes training statistics into a manifest, keeping its other fields, in a form model.json accepts', async () => {
    await writeFile(join(dir, 'model.json'), JSON.stringify({ description: 'churn v3', metadata: { auc: 0.81 } }))
    const { code, stdout, stderr } = await runCli(['profile', join(dir, 'rows.jsonl'), '--manifest', join(dir, 'model.json')])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toBe(`profiled 1000 rows: 2 numeric features, output (score); wrote ${join(dir, 'model.json')}\n`)
    const manifest = manifestSchema.parse(JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')))
    expect(manifest.description).toBe('churn v3')
    expect(manifest.metadata).toEqual({ auc: 0.81 })
    const stats = manifest.training_stats!
    expect(stats.rows).toBe(1000)
    expect(Object.keys(stats.features)).toEqual(['x', 'y'])
    const { x, y } = stats.features as Record<string, (typeof stats.features)[string]>
    expect(x).toMatchObject({ count: 1000, missing_rate: 0 })
    // Sample of 1000 from N(0, 1): within about three standard errors.
    expect(Math.abs(x!.mean)).toBeLessThan(0.1)
    expect(Math.abs(x!.std - 1)).toBeLessThan(0.1)
    expect(y).toMatchObject({ count: 1000, missing_rate: 0.25 })
    expect(Math.abs(y!.mean - 10)).toBeLessThan(0.25)
    // Deciles: 9 interior edges, 10 bins of about 10% each.
    expect(x!.bins).toHaveLength(9)
    expect(x!.fractions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9)
    for (const f of x!.fractions) expect(f).toBeGreaterThan(0.08)
    expect(stats.output).toMatchObject({ field: 'score', count: 1000, missing_rate: 0 })
    expect(await readdir(dir)).toEqual(['bare.jsonl', 'model.json', 'rows.jsonl'])
  })

  it('prints the statistics on stdout without --output or --manifest; --features-only leaves the output out', async () => {
    const { code, stdout, stderr } = await runCli(['profile', join(dir, 'rows.jsonl'), '--features-only', '--bins', '4'])
    expect(code).toBe(0)
    expect(stderr).toBe('profiled 1000 rows: 2 numeric features\n')
    const stats = JSON.parse(stdout)
    expect(stats.output).toBeUndefined()
    expect(stats.features.x.bins).toHaveLength(3)
  })

  it('reads bare feature records and arrays (features named by position)', async () => {
    const out = join(dir, 'bare-stats.json')
    const { code } = await runCli(['profile', join(dir, 'bare.jsonl'), '--output', out])
    expect(code).toBe(0)
    const stats = JSON.parse(await readFile(out, 'utf8'))
    await rm(out)
    expect(stats.rows).toBe(3)
    // Integer-like names come first in a JSON object, whatever the order of the rows.
    expect(Object.keys(stats.features)).toEqual(['0', '1', 'a', 'b'])
    expect(stats.features.a).toMatchObject({ count: 3, mean: 2 })
    expect(stats.features.b.missing_rate).toBeCloseTo(2 / 3, 9)
  })

  it('exits 1 naming the line of a row that is not JSON', async () => {
    await writeFile(join(dir, 'bad.jsonl'), '{"x": 1}\n{"x": \n')
    const { code, stderr } = await runCli(['profile', join(dir, 'bad.jsonl')])
    await rm(join(dir, 'bad.jsonl'))
    expect(code).toBe(1)
    expect(stderr).toContain(`servekit: invalid_request: ${join(dir, 'bad.jsonl')}:2: not valid JSON`)
  })
})
