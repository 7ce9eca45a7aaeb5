// The observability settings the benches compare (bench/observability.mjs, bench/instructions.mjs):
// servekit config objects for the bench service's models, by variant name.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SERVICE = join(dirname(dirname(fileURLToPath(import.meta.url))), 'service')

/**
 * `dir`: where the prediction log writes; `memoryDir`: the same in memory (tmpfs), when there is one.
 * `onnx`: also serve `tumor_onnx`, the ONNX MLP of examples/frameworks (linked into the bench store),
 * a model that does real work (one ONNX Runtime session.run a request, ~40 µs here).
 */
export function observabilityVariants(dir, memoryDir = dir, { onnx = false } = {}) {
  const base = {
    store: join(SERVICE, 'models'),
    pollIntervalMs: 0,
    models: {
      sum: { module: join(SERVICE, 'src/sum.ts') },
      tabular: { module: join(SERVICE, 'src/tabular.ts') },
      ...(onnx ? { tumor_onnx: { options: { output: 'probabilities' } } } : {}),
    },
  }
  const OFF = { metrics: { enabled: false }, logging: { level: 'warn', accessLogSampleRate: 0 }, predictionLog: { enabled: false } }
  const ON = { metrics: { enabled: true }, logging: { level: 'info', accessLogSampleRate: 1 }, predictionLog: { enabled: true, sampleRate: 1, sink: { type: 'jsonl', dir: join(dir, 'prediction-logs') } } }
  return {
    off: { ...base, ...OFF },
    on: { ...base, ...ON },
    // Drift monitoring is on in both off and on (its default); this one has it off too.
    off_without_monitoring: { ...base, ...OFF, monitoring: { enabled: false } },
    // One feature on at a time, to see which costs what.
    metrics_only: { ...base, ...OFF, metrics: ON.metrics },
    metrics_without_process_metrics: { ...base, ...OFF, metrics: { ...ON.metrics, processMetrics: false } },
    logs_only: { ...base, ...OFF, logging: ON.logging },
    prediction_log_only: { ...base, ...OFF, predictionLog: { ...ON.predictionLog, sink: { type: 'jsonl', dir: join(dir, 'prediction-logs-only') } } },
    // The same files in memory: the prediction log without the disk's share.
    prediction_log_tmpfs: { ...base, ...OFF, predictionLog: { ...ON.predictionLog, sink: { type: 'jsonl', dir: join(memoryDir, 'prediction-logs') } } },
    on_without_prediction_log: { ...base, ...ON, predictionLog: OFF.predictionLog },
    // Everything on, the access log and the prediction log sampled at 10%: the knob a busy service turns.
    on_sampled_10: { ...base, ...ON, logging: { ...ON.logging, accessLogSampleRate: 0.1 }, predictionLog: { ...ON.predictionLog, sampleRate: 0.1, sink: { type: 'jsonl', dir: join(dir, 'prediction-logs-sampled') } } },
  }
}
