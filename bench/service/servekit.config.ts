import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineConfig } from 'servekit'

// The bench service (npm run bench): `sum` costs nothing, so it measures serving overhead;
// `tabular` is a realistic model, a logistic regression over 30 features. The bench overrides
// port, host and workers on the command line, and points the prediction log at a temporary
// directory of its own (SERVEKIT_BENCH_TMP) so that a run writes nothing into the repository.
//
// Defaults otherwise, as a service gets them: metrics, access log, prediction log and drift
// monitoring on. SERVEKIT_BENCH_LEAN=1 (the bench's `servekit-lean` server) turns those off, to
// show what the serving path costs without them.
const tmp = process.env['SERVEKIT_BENCH_TMP'] ?? join(tmpdir(), 'servekit-bench')
const lean = process.env['SERVEKIT_BENCH_LEAN'] === '1'

export default defineConfig({
  store: './models',
  models: {
    sum: { module: './src/sum.ts' },
    tabular: { module: './src/tabular.ts' },
  },
  server: { port: 0, host: '127.0.0.1' },
  logging: { level: 'info', ...(lean ? { accessLogSampleRate: 0 } : {}) },
  predictionLog: { enabled: !lean, sink: { type: 'jsonl', dir: join(tmp, 'prediction-logs') } },
  ...(lean ? { metrics: { enabled: false }, monitoring: { enabled: false } } : {}),
})
