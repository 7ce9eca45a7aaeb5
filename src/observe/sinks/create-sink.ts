import { resolve } from 'node:path'
import { HttpSink } from './http-sink.js'
import { JsonlFileSink } from './jsonl-file-sink.js'
import { RedisStreamSink } from './redis-stream-sink.js'
import type { PredictionSink } from './sink.js'
import { StdoutSink } from './stdout-sink.js'

/** `predictionLog.sink` after validation (config/schema.ts fills the defaults). */
export type SinkConfig =
  | { type: 'jsonl'; dir: string; maxBytes: number; maxAgeMs: number; maxTotalBytes: number }
  | { type: 'stdout' }
  | { type: 'http'; url: string; timeoutMs: number; headers: Record<string, string> }
  | { type: 'redis'; url: string; stream: string; maxLen: number; timeoutMs: number }
  | { type: 'custom'; name: string; sink: PredictionSink }

export interface SinkContext {
  /** Relative paths (the JSONL directory) are relative to this: the config file's directory. */
  baseDir: string
  /** Told about connection errors of sinks that reconnect by themselves. */
  onError: (err: Error) => void
  /** Told which old files the JSONL sink deleted to stay under `maxTotalBytes`. */
  onDeleted?: (files: ReadonlyArray<{ name: string; bytes: number }>) => void
  /** Told about an event line too long for the stdout sink to write whole on a shared pipe. */
  onLongLine?: (bytes: number) => void
}

/** The sink a config names, and the label its events are counted under. */
export function createSink(config: SinkConfig, ctx: SinkContext): { sink: PredictionSink; name: string } {
  switch (config.type) {
    case 'jsonl':
      return { name: 'jsonl', sink: new JsonlFileSink({ dir: resolve(ctx.baseDir, config.dir), maxBytes: config.maxBytes, maxAgeMs: config.maxAgeMs, maxTotalBytes: config.maxTotalBytes, onDeleted: ctx.onDeleted }) }
    case 'stdout':
      return { name: 'stdout', sink: new StdoutSink({ onLongLine: ctx.onLongLine }) }
    case 'http':
      return { name: 'http', sink: new HttpSink(config) }
    case 'redis':
      return { name: 'redis', sink: new RedisStreamSink({ ...config, onError: ctx.onError }) }
    case 'custom':
      return { name: config.name, sink: config.sink }
  }
}
