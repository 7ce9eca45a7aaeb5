import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { HttpSink, redact } from '../../../src/observe/sinks/http-sink.js'
import { NoopSink } from '../../../src/observe/sinks/noop-sink.js'
import { StdoutSink } from '../../../src/observe/sinks/stdout-sink.js'

const event = (i: number): PredictionEvent => ({
  ts: new Date(1_700_000_000_000 + i).toISOString(),
  request_id: `r-${i}`,
  model_id: 'churn',
  model_version: '1',
  arm: null,
  features: { x: i },
  output: 0.5,
  latency_ms: 2,
  shadows: [{ target: 'churn@2', output: 0.6, error: null, latency_ms: 3, agreed: false, max_abs_diff: 0.1 }],
})

interface Received {
  method: string | undefined
  headers: IncomingMessage['headers']
  body: unknown
}

let server: Server | undefined
afterEach(async () => {
  if (server) {
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
    server = undefined
  }
})

/** A collector on 127.0.0.1:0 that answers with `answer` (or never, when it returns undefined). */
async function collector(answer: (req: IncomingMessage, res: ServerResponse) => number | undefined): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = []
  server = createServer(async (req, res) => {
    let text = ''
    for await (const chunk of req) text += chunk
    received.push({ method: req.method, headers: req.headers, body: JSON.parse(text) })
    const status = answer(req, res)
    if (status !== undefined) res.writeHead(status).end(status < 300 ? '' : 'collector says no')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, received }
}

describe('HttpSink', () => {
  it('POSTs each batch as a JSON array with the configured headers', async () => {
    const { url, received } = await collector(() => 204)
    const sink = new HttpSink({ url, timeoutMs: 5000, headers: { authorization: 'Bearer t0k' } })
    await sink.write([event(0), event(1)])
    await sink.write([event(2)])
    await sink.close()
    expect(received.map((r) => r.body)).toEqual([[event(0), event(1)], [event(2)]])
    expect(received[0]).toMatchObject({ method: 'POST', headers: { authorization: 'Bearer t0k', 'content-type': 'application/json' } })
  })

  it('fails a write the collector answers with a non-2xx status, naming the status', async () => {
    const { url } = await collector(() => 503)
    await expect(new HttpSink({ url, timeoutMs: 5000 }).write([event(0)])).rejects.toThrow(/answered 503: collector says no/)
  })

  it('fails a write the collector does not answer within timeoutMs', async () => {
    const { url } = await collector(() => undefined)
    await expect(new HttpSink({ url, timeoutMs: 100 }).write([event(0)])).rejects.toThrow(/timeout|aborted/i)
  })

  it('fails a write when nothing listens', async () => {
    const { url } = await collector(() => 200)
    server!.close()
    server!.closeAllConnections()
    await once(server!, 'close')
    server = undefined
    await expect(new HttpSink({ url, timeoutMs: 1000 }).write([event(0)])).rejects.toThrow()
  })

  it('keeps credentials out of messages', () => {
    expect(redact('https://user:secret@collector.example/x')).toBe('https://***@collector.example/x')
    expect(redact('not a url')).toBe('(invalid url)')
  })
})

describe('StdoutSink', () => {
  it('writes one JSON line per event, a batch in one write', async () => {
    const stream = new PassThrough()
    const chunks: string[] = []
    stream.on('data', (d: Buffer) => chunks.push(d.toString()))
    const sink = new StdoutSink(stream)
    await sink.write([event(0), event(1)])
    await sink.close()
    expect(chunks).toHaveLength(1)
    expect(chunks[0]!.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([event(0), event(1)])
  })
})

describe('NoopSink', () => {
  it('accepts batches and closes', async () => {
    const sink = new NoopSink()
    await expect(sink.write()).resolves.toBeUndefined()
    await expect(sink.close()).resolves.toBeUndefined()
  })
})
