import type { PredictionEvent } from '../prediction-event.js'
import { msJson, quoted, quotedRepeating } from '../json-text.js'
import { rawFeatures } from '../raw-features.js'

/**
 * Events encoded as JSON lines: UTF-8, each line one event ending in "\n", a line never split
 * between two chunks. JSON text has no raw newline (JSON.stringify escapes it, and no byte of a
 * multibyte UTF-8 character is 0x0a), so every 0x0a byte ends a line.
 */
export interface JsonLines {
  /** The bytes, in order; each chunk is exactly its lines (a view, not a whole buffer). */
  readonly chunks: readonly Buffer[]
  /** The number of lines (events). */
  readonly count: number
}

export const NEWLINE = 0x0a

/** Calls `line` with each line of the batch, in order, without its newline (a view of the chunk, not a copy). */
export function forEachLine(batch: JsonLines, line: (json: Buffer) => void): void {
  for (const chunk of batch.chunks) {
    for (let start = 0; start < chunk.length; ) {
      const end = chunk.indexOf(NEWLINE, start)
      line(chunk.subarray(start, end))
      start = end + 1
    }
  }
}

/**
 * An event as one line of JSON (without the newline): JSON.stringify's, with the features' text
 * copied from the request body when there is one and it can be (observe/raw-features.ts), and the
 * strings and the latency written without JSON.stringify (observe/json-text.ts). Outputs
 * come from user code: a BigInt or a cycle must cost that one event its odd values, not fail the
 * batch forever.
 */
export function eventJson(event: PredictionEvent, bodyJson?: string): string {
  try {
    const features = bodyJson === undefined ? undefined : rawFeatures(bodyJson)
    const output = features === undefined ? undefined : JSON.stringify(event.output)
    // An output JSON has no text for (undefined, a function) is left out, as JSON.stringify does.
    if (output === undefined) return JSON.stringify(event)
    // The fields in PredictionEvent's order, as JSON.stringify writes them (a test compares the two).
    return (
      '{"ts":' + tsJson(event.ts) +
      ',"request_id":' + quoted(event.request_id) +
      ',"model_id":' + modelIdJson(event.model_id) +
      ',"model_version":' + versionJson(event.model_version) +
      ',"arm":' + (event.arm === null ? 'null' : armJson(event.arm)) +
      ',"features":' + features +
      ',"output":' + output +
      ',"latency_ms":' + msJson(event.latency_ms) +
      ',"shadows":' + (event.shadows.length === 0 ? '[]' : JSON.stringify(event.shadows)) + '}'
    )
  } catch {
    const seen = new WeakSet<object>()
    return JSON.stringify(event, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString()
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[Circular]'
        seen.add(value)
      }
      return value
    })
  }
}

// Fields that mostly repeat from one event to the next (the time within a millisecond).
const tsJson = quotedRepeating()
const modelIdJson = quotedRepeating()
const versionJson = quotedRepeating()
const armJson = quotedRepeating()

/** Events as one batch of JSON lines. */
export function encodeLines(events: readonly PredictionEvent[]): JsonLines {
  const encoder = new JsonLinesEncoder()
  for (const event of events) encoder.add(eventJson(event))
  return encoder.take(Infinity) ?? { chunks: [], count: 0 }
}

/** Bytes per chunk: a few system calls per batch of large events, and little memory kept per process. */
const CHUNK_BYTES = 256 * 1024
/** Delivered chunks kept for reuse: about what two batches of 1 KB events fill. */
const SPARE_CHUNKS = 8

interface Sealed {
  readonly bytes: Buffer
  readonly count: number
}

/**
 * Encodes JSON lines straight into large reusable buffers, outside the JavaScript heap. Holding
 * events as strings until their batch was written (a second or a slow write away) kept every
 * string alive through several young-generation collections, which copied each of them again and
 * then promoted them to the old generation: for 1 KB events that cost more than encoding them
 * (`bench/prediction-log-sink.mjs`). Here each string is garbage as soon as its bytes are copied.
 *
 * Chunks are sealed when full or when they hold `maxLines` lines, so that a batch of up to
 * `maxLines` events is a list of whole chunks. `take` hands out sealed chunks; `recycle` takes back
 * the chunks of a batch the sink is done with (only then can they be overwritten).
 */
export class JsonLinesEncoder {
  private chunk: Buffer | undefined
  private used = 0
  private lines = 0
  private readonly sealed: Sealed[] = []
  private readonly spare: Buffer[] = []
  /** Lines held, sealed or not. */
  private held = 0

  constructor(private readonly maxLines = Infinity) {}

  get length(): number {
    return this.held
  }

  add(json: string): void {
    // At most three bytes per UTF-16 unit, plus the newline: the exact length is computed only
    // when that bound does not fit, so near a chunk's end (or for a line larger than a chunk).
    let bytes = json.length * 3 + 1
    if (this.chunk === undefined || bytes > this.chunk.length - this.used) {
      bytes = Buffer.byteLength(json) + 1
      if (this.chunk === undefined || bytes > this.chunk.length - this.used) {
        this.seal()
        if (bytes > CHUNK_BYTES) {
          // A line larger than a chunk: a buffer of its own.
          this.sealed.push({ bytes: Buffer.from(json + '\n'), count: 1 })
          this.held++
          return
        }
        this.chunk = this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES)
      }
    }
    const chunk = this.chunk
    this.used += chunk.write(json, this.used)
    chunk[this.used++] = NEWLINE
    this.held++
    if (++this.lines >= this.maxLines) this.seal()
  }

  /** The oldest lines held, whole chunks of at most `max` lines in all (at least one chunk); undefined when none are held. */
  take(max: number): JsonLines | undefined {
    // The chunk being filled goes too when everything fits, or when it is all there is.
    if (this.held <= max || this.sealed.length === 0) this.seal()
    if (this.sealed.length === 0) return undefined
    const chunks: Buffer[] = []
    let count = 0
    while (this.sealed.length > 0 && (count === 0 || count + this.sealed[0]!.count <= max)) {
      const s = this.sealed.shift()!
      chunks.push(s.bytes)
      count += s.count
    }
    this.held -= count
    return { chunks, count }
  }

  /** Takes back a delivered batch's chunks for reuse: the sink must hold no reference to them any more. */
  recycle(batch: JsonLines): void {
    for (const view of batch.chunks) {
      const whole = view.buffer.byteLength === CHUNK_BYTES && view.byteOffset === 0 && this.spare.length < SPARE_CHUNKS
      if (whole) this.spare.push(Buffer.from(view.buffer, 0, CHUNK_BYTES))
    }
  }

  private seal(): void {
    if (this.chunk === undefined || this.lines === 0) return
    this.sealed.push({ bytes: this.chunk.subarray(0, this.used), count: this.lines })
    this.chunk = undefined
    this.used = 0
    this.lines = 0
  }
}
