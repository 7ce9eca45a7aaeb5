import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PredictionEvent } from '../../../src/observe/prediction-event.js'
import { JsonlFileSink, type JsonlFileSinkOptions } from '../../../src/observe/sinks/jsonl-file-sink.js'

const event = (i: number, extra: Record<string, unknown> = {}): PredictionEvent => ({
  ts: new Date(1_700_000_000_000 + i).toISOString(),
  request_id: `r-${i}`,
  model_id: 'churn',
  model_version: '3',
  arm: i % 2 ? 'b' : null,
  features: { x: i, ...extra },
  output: { y: i / 7 },
  latency_ms: 1.25,
  shadows: [],
})

let dir: string
const sinks: JsonlFileSink[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-jsonl-'))
})
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()))
  await rm(dir, { recursive: true, force: true })
})

function createSink(options: Partial<JsonlFileSinkOptions> = {}): JsonlFileSink {
  const sink = new JsonlFileSink({ dir: join(dir, 'logs'), maxBytes: 1 << 20, maxAgeMs: 3_600_000, ...options })
  sinks.push(sink)
  return sink
}

/** Every file of the directory, sorted by name, with its parsed lines. */
async function readAll(): Promise<Array<{ name: string; bytes: number; events: PredictionEvent[] }>> {
  const names = (await readdir(join(dir, 'logs'))).sort()
  return Promise.all(
    names.map(async (name) => {
      const text = await readFile(join(dir, 'logs', name), 'utf8')
      // One event per line: no blank line anywhere, one newline at the end.
      expect(text.endsWith('\n')).toBe(true)
      const lines = text.slice(0, -1).split('\n')
      expect(lines.filter((l) => l.trim() === '')).toEqual([])
      return { name, bytes: (await stat(join(dir, 'logs', name))).size, events: lines.map((l) => JSON.parse(l) as PredictionEvent) }
    }),
  )
}

describe('JsonlFileSink', () => {
  it('appends one JSON line per event, every field as given, and creates the directory', async () => {
    const sink = createSink()
    await sink.write([event(0), event(1)])
    await sink.write([event(2)])
    await sink.close()
    const files = await readAll()
    expect(files).toHaveLength(1)
    expect(files[0]!.events).toEqual([event(0), event(1), event(2)])
  })

  it('names files predictions-<UTC time>-<tag>-<n>.jsonl, so names sort by creation and processes never share one', async () => {
    let now = Date.parse('2025-03-04T05:06:07.089Z')
    const a = createSink({ tag: '101', now: () => now, maxAgeMs: 1000 })
    const b = createSink({ tag: '202', now: () => now, maxAgeMs: 1000 })
    await a.write([event(0)])
    await b.write([event(1)])
    now += 1000
    await a.write([event(2)])
    await Promise.all([a.close(), b.close()])
    expect((await readAll()).map((f) => f.name)).toEqual([
      'predictions-20250304T050607089Z-101-000000.jsonl',
      'predictions-20250304T050607089Z-202-000000.jsonl',
      'predictions-20250304T050608089Z-101-000001.jsonl',
    ])
  })

  it('opens no file before the first event', async () => {
    const sink = createSink()
    await sink.close()
    await expect(readdir(join(dir, 'logs'))).rejects.toThrow()
  })

  it('rotates by size: no file grows past maxBytes, and no event is lost, split or reordered', async () => {
    const sink = createSink({ maxBytes: 1024 })
    const all = Array.from({ length: 200 }, (_, i) => event(i))
    for (let i = 0; i < all.length; i += 17) await sink.write(all.slice(i, i + 17))
    await sink.close()
    const files = await readAll()
    expect(files.length).toBeGreaterThan(10)
    for (const f of files) expect(f.bytes).toBeLessThanOrEqual(1024)
    expect(files.flatMap((f) => f.events)).toEqual(all)
  })

  it('keeps the directory under maxTotalBytes by deleting the oldest closed files, and says which', async () => {
    const deleted: string[] = []
    const sink = createSink({ maxBytes: 1024, maxTotalBytes: 4096, onDeleted: (files) => deleted.push(...files.map((f) => f.name)) })
    const all = Array.from({ length: 200 }, (_, i) => event(i))
    for (let i = 0; i < all.length; i += 17) await sink.write(all.slice(i, i + 17))
    await sink.close()
    const files = await readAll()
    // At most 4 KiB of closed files, plus the file open at the last rotation.
    expect(files.reduce((n, f) => n + f.bytes, 0)).toBeLessThanOrEqual(4096 + 1024)
    // What is left is the newest events, in order, with nothing missing after the first one kept.
    const kept = files.flatMap((f) => f.events)
    expect(kept).toEqual(all.slice(all.length - kept.length))
    expect(deleted.length).toBeGreaterThan(5)
    expect(deleted).toEqual([...deleted].sort())
    expect(files.map((f) => f.name).every((n) => n > deleted.at(-1)!)).toBe(true)
  })

  it("never deletes another process's file that may still be open, however full the directory", async () => {
    let now = 1_800_000_000_000
    const other = createSink({ tag: 'other', maxBytes: 1024, maxTotalBytes: 0, now: () => now })
    await other.write([event(0, { blob: 'x'.repeat(900) })])
    const mine = createSink({ tag: 'mine', maxBytes: 1024, maxTotalBytes: 1, maxAgeMs: 60_000, now: () => now })
    await mine.write([event(1)])
    await mine.write([event(2, { blob: 'y'.repeat(1000) })]) // rotates: prunes
    let names = (await readAll()).map((f) => f.name)
    expect(names.some((n) => n.includes('-other-'))).toBe(true)
    // Once the other file is older than maxAgeMs plus a minute, nobody can append to it: it goes.
    now += 60_000 + 60_001
    await mine.write([event(3, { blob: 'z'.repeat(1000) })])
    names = (await readAll()).map((f) => f.name)
    expect(names.some((n) => n.includes('-other-'))).toBe(false)
    expect(names.some((n) => n.includes('-mine-'))).toBe(true)
  })

  it('gives a line larger than maxBytes a file of its own rather than dropping it', async () => {
    const sink = createSink({ maxBytes: 1024 })
    const big = event(1, { blob: 'x'.repeat(3000) })
    await sink.write([event(0), big, event(2)])
    await sink.close()
    const files = await readAll()
    expect(files.map((f) => f.events.map((e) => e.request_id))).toEqual([['r-0'], ['r-1'], ['r-2']])
  })

  it('rotates by age: a file takes no events once maxAgeMs old', async () => {
    let now = 0
    const sink = createSink({ maxAgeMs: 60_000, now: () => now })
    await sink.write([event(0)])
    now = 59_999
    await sink.write([event(1)])
    now = 60_000
    await sink.write([event(2)])
    await sink.close()
    expect((await readAll()).map((f) => f.events.map((e) => e.request_id))).toEqual([['r-0', 'r-1'], ['r-2']])
  })

  it('writes batches of many kilobytes, non-ASCII text and lines larger than its write buffer byte for byte', async () => {
    // The sink encodes lines into a 256 KiB buffer: batches here cross it many times, with
    // multi-byte characters (2, 3 and 4 bytes in UTF-8) at every offset and lines of ~1 MB.
    const sink = createSink({ maxBytes: 64 << 20 })
    const texts = ['é', '€'.repeat(900), '🙂', 'plain', 'x'.repeat(1000), '\u2028']
    const all = Array.from({ length: 6000 }, (_, i) => event(i, { note: texts[i % texts.length]!.repeat((i % 7) + 1) }))
    all[1234] = event(1234, { blob: '€'.repeat(300_000) })
    all[4321] = event(4321, { blob: 'y'.repeat(1_000_000) })
    for (let i = 0; i < all.length; i += 1500) await sink.write(all.slice(i, i + 1500))
    await sink.close()
    const files = await readAll()
    expect(files).toHaveLength(1)
    expect(files[0]!.events).toEqual(all)
    expect(files[0]!.bytes).toBe(all.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0))
  })

  it('rotates by size inside a large batch, every file within maxBytes, with multi-byte lines', async () => {
    const sink = createSink({ maxBytes: 100_000 })
    const all = Array.from({ length: 3000 }, (_, i) => event(i, { note: '🙂€é'.repeat(i % 13) }))
    await sink.write(all)
    await sink.close()
    const files = await readAll()
    expect(files.length).toBeGreaterThan(5)
    for (const f of files) expect(f.bytes).toBeLessThanOrEqual(100_000)
    expect(files.flatMap((f) => f.events)).toEqual(all)
  })

  it('writes odd outputs (BigInt, cycles) instead of failing the batch', async () => {
    const sink = createSink()
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic['self'] = cyclic
    await sink.write([{ ...event(0), output: { big: 12n, cyclic } }, event(1)])
    await sink.close()
    const [file] = await readAll()
    expect(file!.events[0]!.output).toEqual({ big: '12', cyclic: { a: 1, self: '[Circular]' } })
    expect(file!.events[1]).toEqual(event(1))
  })

  it('fails a write when the directory cannot be created, and writes again once it can', async () => {
    const { writeFile } = await import('node:fs/promises')
    await writeFile(join(dir, 'logs'), 'a file where the directory should be')
    const sink = createSink()
    await expect(sink.write([event(0)])).rejects.toThrow()
    await rm(join(dir, 'logs'))
    await sink.write([event(1)])
    await sink.close()
    expect((await readAll()).flatMap((f) => f.events.map((e) => e.request_id))).toEqual(['r-1'])
  })
})
