import { redact } from './http-sink.js'
import { forEachLine, type JsonLines } from './json-lines.js'
import { JsonTextSink } from './sink.js'

export interface RedisStreamSinkOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string
  /** Stream key. */
  stream: string
  /** Approximate bound on the stream's length (`XADD … MAXLEN ~ n`): old entries are trimmed. */
  maxLen: number
  /** Connect and command timeout; a slower answer is a failed write. */
  timeoutMs: number
  /** Told about connection errors (the client reconnects by itself). */
  onError?: (err: Error) => void
}

/** The part of node-redis's client this sink uses. */
interface StreamClient {
  connect(): Promise<unknown>
  xAdd(key: string, id: string, message: Record<string, string | Buffer>, options: { TRIM: { strategy: 'MAXLEN'; strategyModifier: '~'; threshold: number } }): Promise<unknown>
  close(): Promise<void>
  destroy(): void
  on(event: 'error', listener: (err: Error) => void): unknown
  readonly isOpen: boolean
}

/**
 * Appends each event to a Redis stream (`XADD <stream> MAXLEN ~ <maxLen> * event <json>`), a batch
 * pipelined in one round trip. Consumers read with XREAD or consumer groups (XREADGROUP).
 * The client library (`redis`, an optional peer dependency) is imported on first use, so services
 * without this sink neither install nor load it.
 */
export class RedisStreamSink extends JsonTextSink {
  private client: Promise<StreamClient> | undefined

  constructor(private readonly options: RedisStreamSinkOptions) {
    super()
  }

  async writeJson(batch: JsonLines): Promise<void> {
    const client = await this.connect()
    const trim = { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.options.maxLen } } as const
    // Issued in one tick, node-redis writes them as one pipeline. Each event is its line's bytes
    // (a view of the batch's buffer: the promise settles only once Redis answered every XADD).
    const added: Array<Promise<unknown>> = []
    forEachLine(batch, (json) => added.push(client.xAdd(this.options.stream, '*', { event: json }, trim)))
    await Promise.all(added)
  }

  async close(): Promise<void> {
    const pending = this.client
    this.client = undefined
    if (pending === undefined) return
    const client = await pending.catch(() => undefined)
    if (client?.isOpen) await client.close()
  }

  private connect(): Promise<StreamClient> {
    this.client ??= this.open().catch((err: unknown) => {
      this.client = undefined
      throw err
    })
    return this.client
  }

  private async open(): Promise<StreamClient> {
    // An optional peer dependency: only services that use this sink install it.
    const { createClient } = await import('redis').catch((err: unknown) => {
      throw new Error('prediction log: the redis sink needs the "redis" package: npm install redis', { cause: err })
    })
    const { url, timeoutMs } = this.options
    let connected = false
    const client = createClient({
      url,
      // Fail commands at once while disconnected: the prediction log retries and counts; an offline
      // queue would be a second, unbounded buffer.
      disableOfflineQueue: true,
      commandOptions: { timeout: timeoutMs },
      socket: {
        connectTimeout: timeoutMs,
        // Before the first connection, fail fast (the write is retried); after it, reconnect with backoff.
        reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(50 * 2 ** retries, 2000) : cause),
      },
    }) as unknown as StreamClient
    // Without an 'error' listener node-redis would crash the process on a connection error.
    client.on('error', (err) => this.options.onError?.(err))
    try {
      await client.connect()
    } catch (err) {
      client.destroy()
      throw new Error(`prediction log: cannot connect to Redis at ${redact(url)}: ${(err as Error).message}`, { cause: err })
    }
    connected = true
    return client
  }
}
