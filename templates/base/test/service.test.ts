// Starts the service the way you do (`npx servekit serve`), calls it over HTTP, and stops it with
// SIGTERM. The requests are the cases stored in testdata/{{model_id}}.json (`npm run test:update`).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const MODEL_ID = '{{model_id}}'

interface StoredCase {
  name: string
  features: unknown
  expected: unknown
}
const stored = JSON.parse(readFileSync(new URL(`../testdata/${MODEL_ID}.json`, import.meta.url), 'utf8')) as { cases: StoredCase[] }

interface LogLine {
  msg?: string
  port?: number
  code?: number
}

let server: ChildProcess
let baseUrl: string
const logs: LogLine[] = []

beforeAll(async () => {
  // Its own process group, so stopping it reaches npx and the servekit processes under it.
  server = spawn('npx', ['servekit', 'serve', '--port', '0', '--host', '127.0.0.1', '--workers', '1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('servekit did not log "servekit listening" within 45 s')), 45_000)
    server.once('exit', (code) => reject(new Error(`servekit exited with code ${code} before listening`)))
    createInterface({ input: server.stdout! }).on('line', (line) => {
      let log: LogLine
      try {
        log = JSON.parse(line) as LogLine
      } catch {
        return // not a log line
      }
      logs.push(log)
      if (log.msg?.startsWith('servekit listening') && typeof log.port === 'number') {
        clearTimeout(timer)
        resolve(log.port)
      }
    })
  })
  baseUrl = `http://127.0.0.1:${port}`
})

/** SIGTERM to npx and the servekit processes; resolves once they have exited and stdout is read. */
async function stop(): Promise<void> {
  if (server === undefined || server.exitCode !== null || server.signalCode !== null) return
  const closed = once(server, 'close')
  process.kill(-server.pid!, 'SIGTERM')
  await closed
}

afterAll(stop)

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

/** Numbers equal within 1e-6 absolute + 1e-6 relative; everything else exactly. */
function expectClose(got: unknown, want: unknown, path = 'output'): void {
  if (typeof want === 'number') {
    expect(typeof got, path).toBe('number')
    expect(Math.abs((got as number) - want), path).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(want))
  } else if (Array.isArray(want)) {
    expect(Array.isArray(got) && got.length, path).toBe(want.length)
    want.forEach((w, i) => expectClose((got as unknown[])[i], w, `${path}[${i}]`))
  } else if (want !== null && typeof want === 'object') {
    expect(Object.keys(got as object).sort(), path).toEqual(Object.keys(want).sort())
    for (const [k, w] of Object.entries(want)) expectClose((got as Record<string, unknown>)[k], w, `${path}.${k}`)
  } else {
    expect(got, path).toEqual(want)
  }
}

describe('{{name}}', () => {
  it('is alive and ready', async () => {
    expect((await fetch(`${baseUrl}/health`)).status).toBe(200)
    const ready = await fetch(`${baseUrl}/ready`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready' })
  })

  it('lists the model with a passing self-test', async () => {
    const res = await fetch(`${baseUrl}/models`)
    const { models } = (await res.json()) as { models: { model_id: string; status: string; versions: { self_test: { status: string } }[] }[] }
    const model = models.find((m) => m.model_id === MODEL_ID)
    expect(model?.status).toBe('ready')
    expect(model?.versions[0]?.self_test.status).not.toBe('failed')
  })

  it.each(stored.cases.map((c) => [c.name, c] as const))('POST /infer answers the stored case %s', async (_name, c) => {
    const res = await post('/infer', { model_id: MODEL_ID, features: c.features, request_id: 'test-1' })
    expect(res.status).toBe(200)
    expect(res.body.model_id).toBe(MODEL_ID)
    expect(res.body.request_id).toBe('test-1')
    expectClose(res.body.output, c.expected)
  })

  it('refuses features the model does not accept with a 400 naming the problem', async () => {
    const res = await post('/infer', { model_id: MODEL_ID, features: { not_a_feature: 1 } })
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('invalid_request')
  })

  it('answers 404 model_not_found for an unknown model', async () => {
    const res = await post('/infer', { model_id: 'no_such_model', features: {} })
    expect(res.status).toBe(404)
    expect(res.body.error.code).toBe('model_not_found')
  })

  it('drains and stops with code 0 on SIGTERM', async () => {
    await stop()
    expect(logs.find((l) => l.msg === 'servekit stopped')?.code).toBe(0)
  })
})
