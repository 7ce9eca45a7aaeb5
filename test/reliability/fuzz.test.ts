import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { statusByCode } from '../../src/server/error-handler.js'
import { startService, type RunningService } from '../helpers/start-service.js'
import { report } from './load-client.js'

// Property-based fuzzing of the envelope and of features against the schema-checked `ok` model
// (z.object({ x: finite number in [-1e9, 1e9], tag?: string of at most 64 }).strict()). A fixed seed
// and a bounded number of runs keep it reproducible and quick; FUZZ_SEED changes the seed.

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150)
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261128)

let svc: RunningService
beforeAll(async () => {
  svc = await startService({ config: CONFIG, workers: 2 })
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

let requests = 0
async function send(path: string, body: string): Promise<{ status: number; json: any }> {
  requests++
  const res = await fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const text = await res.text()
  return { status: res.status, json: JSON.parse(text) }
}

/** Every error answer: the documented shape, a catalogue code, and the status the catalogue gives it. */
function expectErrorShape(status: number, json: any): void {
  expect(json.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }))
  expect(statusByCode[json.error.code as keyof typeof statusByCode]).toBe(status)
}

/** What Fastify refuses before anything else: a `__proto__` key, or `constructor.prototype`. */
function poisoned(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  for (const k of Object.keys(v)) {
    const child = (v as Record<string, unknown>)[k]
    if (k === '__proto__') return true
    if (k === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype')) return true
    if (poisoned(child)) return true
  }
  return false
}

/** The `ok` model's schema, restated: the oracle for the features properties. */
function validFeatures(f: unknown): boolean {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return false
  const o = f as Record<string, unknown>
  if (!Object.keys(o).every((k) => k === 'x' || k === 'tag')) return false
  if (typeof o['x'] !== 'number' || !Number.isFinite(o['x']) || o['x'] < -1e9 || o['x'] > 1e9) return false
  return o['tag'] === undefined || (typeof o['tag'] === 'string' && o['tag'].length <= 64)
}

const json = fc.jsonValue({ maxDepth: 4 })
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -1e9, 1e9, 1e9 + 1, 1e308, -1e-308))
const features = fc.oneof(
  { weight: 3, arbitrary: fc.record({ x: number, tag: fc.string({ maxLength: 80 }) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ x: json, tag: json }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom('x', 'tag', '__proto__', 'constructor', 'prototype'), fc.string()), json, { maxKeys: 4 }) },
  { weight: 1, arbitrary: json },
)
const modelId = fc.oneof(fc.constantFrom('ok', 'accept_any', 'ok@1', 'nope', '', '../ok', 'ok\u0000'), fc.string({ maxLength: 300 }))
const envelope = fc.record(
  {
    model_id: fc.oneof({ weight: 4, arbitrary: modelId }, { weight: 1, arbitrary: json }),
    model_version: fc.oneof(fc.constantFrom('1', 'latest', '../1'), json),
    features,
    request_id: fc.oneof(fc.string({ maxLength: 140 }), json),
    parameters: json,
    extra: json,
  },
  { requiredKeys: [] },
)

describe('fuzzing', () => {
  it('an arbitrary envelope gets 200 or a documented 4xx in the error shape, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(envelope, async (body) => {
        const { status, json } = await send('/infer', JSON.stringify(body))
        expect([200, 400, 404]).toContain(status)
        if (status !== 200) expectErrorShape(status, json)
      }),
      { numRuns: RUNS, seed: SEED },
    )
  })

  it('features: 200 with the right output exactly when the schema accepts them, else 400 naming the feature', async () => {
    await fc.assert(
      fc.asyncProperty(features, async (f) => {
        const text = JSON.stringify({ model_id: 'ok', features: f })
        const seen = JSON.parse(text).features // what the server receives (-0 is 0, undefined keys gone)
        const { status, json } = await send('/infer', text)
        if (poisoned(seen)) {
          expect([status, json.error.code]).toEqual([400, 'invalid_json'])
        } else if (validFeatures(seen)) {
          expect(status).toBe(200)
          expect(json.output).toEqual({ y: seen.x * 2, tag: seen.tag ?? null })
        } else {
          expect([status, json.error.code]).toEqual([400, 'invalid_request'])
          expect(json.error.field).toMatch(/^features/)
        }
      }),
      { numRuns: RUNS, seed: SEED },
    )
  })

  it('batch: one result per instance, in order, each 200-output or its own invalid_request', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(features, { minLength: 1, maxLength: 12 }), async (instances) => {
        const text = JSON.stringify({ model_id: 'ok', instances })
        const seen = JSON.parse(text).instances as unknown[]
        const { status, json } = await send('/infer/batch', text)
        if (poisoned(seen)) return void expect([status, json.error.code]).toEqual([400, 'invalid_json'])
        expect(status).toBe(200)
        expect(json.results).toHaveLength(seen.length)
        seen.forEach((f, i) => {
          if (validFeatures(f)) expect(json.results[i]).toEqual({ output: { y: (f as { x: number }).x * 2, tag: (f as { tag?: string }).tag ?? null } })
          else expect(json.results[i].error.code).toBe('invalid_request')
        })
      }),
      { numRuns: RUNS, seed: SEED },
    )
  })

  it('arbitrary bytes as a JSON body never get a 5xx', async () => {
    const bodies = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), json.map((v) => JSON.stringify(v)))
    await fc.assert(
      fc.asyncProperty(bodies, fc.constantFrom('/infer', '/infer/batch'), async (body, path) => {
        const { status, json } = await send(path, body)
        expect([200, 400, 404]).toContain(status)
        if (status !== 200) expectErrorShape(status, json)
      }),
      { numRuns: RUNS, seed: SEED },
    )
    expect(svc.logs.filter((l) => l.msg === 'worker died; restarting it')).toEqual([])
    await report('fuzz', { properties: 4, runs_each: RUNS, seed: SEED, requests, five_xx: 0, worker_restarts: 0 })
  })
})
