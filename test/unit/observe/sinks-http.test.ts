import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { HttpSink, redact } from '../../../src/observe/sinks/http-sink.js'
import { NoopSink } from '../../../src/observe/sinks/noop-sink.js'
import { MAX_ATOMIC_WRITE } from '../../../src/observe/fd-writer.js'
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
  /** Every write the sink makes, as text. */
  const capture = () => {
    const writes: string[] = []
    return { writes, out: { write: (bytes: Buffer) => void writes.push(bytes.toString()) } }
  }

  it('writes one JSON line per event, a small batch in one write', async () => {
    const { writes, out } = capture()
    const sink = new StdoutSink({ out })
    await sink.write([event(0), event(1)])
    await sink.close()
    expect(writes).toHaveLength(1)
    expect(writes[0]!.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([event(0), event(1)])
  })

  it('never writes more than 4096 bytes at once, and only whole lines, so a shared pipe keeps every line whole', async () => {
    const { writes, out } = capture()
    const longLines: number[] = []
    const sink = new StdoutSink({ out, onLongLine: (n) => longLines.push(n) })
    // 1 KB events with multi-byte text, as many as a batch holds.
    const batch = Array.from({ length: 1000 }, (_, i) => ({ ...event(i), features: { note: 'é€'.repeat(150 + (i % 50)) } }))
    await sink.write(batch)
    expect(writes.length).toBeGreaterThan(200)
    for (const w of writes) {
      expect(Buffer.byteLength(w)).toBeLessThanOrEqual(MAX_ATOMIC_WRITE)
      expect(w.endsWith('\n')).toBe(true)
    }
    expect(writes.join('').trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual(batch)
    expect(longLines).toEqual([])
  })

  it('writes a line longer than 4096 bytes on its own, and says so', async () => {
    const { writes, out } = capture()
    const longLines: number[] = []
    const sink = new StdoutSink({ out, onLongLine: (n) => longLines.push(n) })
    const big = { ...event(1), features: { blob: 'x'.repeat(5000) } }
    await sink.write([event(0), big, event(2)])
    expect(writes.map((w) => w.trimEnd().split('\n').map((l) => JSON.parse(l).request_id))).toEqual([[event(0).request_id], [big.request_id], [event(2).request_id]])
    expect(longLines).toEqual([Buffer.byteLength(JSON.stringify(big)) + 1])
  })

  it('rejects the batch when a write fails, for the prediction log to retry and count', async () => {
    const sink = new StdoutSink({
      out: {
        write: () => {
          throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
        },
      },
    })
    await expect(sink.write([event(0)])).rejects.toThrow('EPIPE')
  })
})

describe('NoopSink', () => {
  it('accepts batches and closes', async () => {
    const sink = new NoopSink()
    await expect(sink.write()).resolves.toBeUndefined()
    await expect(sink.close()).resolves.toBeUndefined()
  })
})
