import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { PredictionLog } from '../../../src/observe/prediction-log.js'
import { RedisStreamSink } from '../../../src/observe/sinks/redis-stream-sink.js'
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js'

const event = (i: number): PredictionEvent => ({
  ts: new Date(1_700_000_000_000 + i).toISOString(),
  request_id: `r-${i}`,
  model_id: 'churn',
  model_version: '1',
  arm: 'treatment',
  features: { x: i },
  output: { p: i / 10 },
  latency_ms: 0.75,
  shadows: [],
})

let redis: RedisServer
let reader: ReturnType<typeof createClient>
beforeAll(async () => {
  redis = await startRedisServer()
  reader = createClient({ url: redis.url })
  await reader.connect()
})
afterAll(async () => {
  await reader?.close()
  await redis?.close()
})

const sinkOptions = (stream: string, extra: Partial<ConstructorParameters<typeof RedisStreamSink>[0]> = {}) => ({ url: redis.url, stream, maxLen: 100_000, timeoutMs: 2000, ...extra })

async function readStream(stream: string): Promise<PredictionEvent[]> {
  const entries = await reader.xRange(stream, '-', '+')
  return (entries ?? []).map((e) => JSON.parse(e.message['event'] as string) as PredictionEvent)
}

describe('RedisStreamSink (against a real redis-server)', () => {
  it('XADDs each event, in order, as the JSON field "event"', async () => {
    const sink = new RedisStreamSink(sinkOptions('t:order'))
    await sink.write([event(0), event(1), event(2)])
    await sink.write([event(3)])
    await sink.close()
    expect(await readStream('t:order')).toEqual([event(0), event(1), event(2), event(3)])
  })

  it('bounds the stream near maxLen (MAXLEN ~)', async () => {
    const sink = new RedisStreamSink(sinkOptions('t:bounded', { maxLen: 50 }))
    for (let i = 0; i < 2000; i += 100) await sink.write(Array.from({ length: 100 }, (_, j) => event(i + j)))
    await sink.close()
    const len = await reader.xLen('t:bounded')
    // Approximate trimming removes whole radix-tree nodes (100 entries by default): a little over 50.
    expect(len).toBeGreaterThanOrEqual(50)
    expect(len).toBeLessThan(300)
    const last = await reader.xRevRange('t:bounded', '+', '-', { COUNT: 1 })
    expect(JSON.parse(last![0]!.message['event'] as string).request_id).toBe('r-1999')
  })

  it('carries a PredictionLog through close: every recorded event is in the stream', async () => {
    const log = new PredictionLog({ sink: new RedisStreamSink(sinkOptions('t:log')), sinkName: 'redis', sampleRate: 1, bufferSize: 10_000, maxBatch: 64, flushIntervalMs: 50, retries: 2 })
    for (let i = 0; i < 500; i++) log.record(event(i))
    await log.close()
    expect(log.stats()).toEqual({ buffered: 0, written: 500, failed: 0, dropped: 0 })
    expect((await readStream('t:log')).map((e) => e.request_id)).toEqual(Array.from({ length: 500 }, (_, i) => `r-${i}`))
  })

  it('fails a write quickly when Redis is unreachable, and closes cleanly', async () => {
    const errors: Error[] = []
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const sink = new RedisStreamSink({ url: 'redis://:secret@127.0.0.1:1', stream: 't:x', maxLen: 10, timeoutMs: 1000, onError: (e) => errors.push(e) })
    const err = await sink.write([event(0)]).then(() => undefined, (e: Error) => e)
    expect(err?.message).toMatch(/cannot connect to Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1/)
    expect(err?.message).not.toContain('secret')
    await sink.close()
  })

  it('fails writes (does not queue them) once the server has gone away', async () => {
    const doomed = await startRedisServer()
    const sink = new RedisStreamSink({ url: doomed.url, stream: 't:gone', maxLen: 10, timeoutMs: 1000, onError: () => {} })
    try {
      await sink.write([event(0)])
      await doomed.close()
      // Because an offline queue would be a second, unbounded buffer behind the bounded one.
      await expect(sink.write([event(1)])).rejects.toThrow()
    } finally {
      await sink.close()
      await doomed.close()
    }
  })

  it('imports the redis client lazily: not at the top of the module', async () => {
    const source = await readFile(fileURLToPath(new URL('../../../src/observe/sinks/redis-stream-sink.ts', import.meta.url)), 'utf8')
    expect(source).not.toMatch(/^import\s+(?!type\s)[^'"]*from\s+['"]redis['"]/m)
    expect(source).toContain("await import('redis')")
  })
})
