// What the bench's reference servers (bare.mjs, fastify.mjs) share: the command line, the
// node:cluster primary, the bench models written by hand, and the parts of servekit's /infer
// contract they repeat (request ids, response headers).
import cluster from 'node:cluster'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

/** `--port 0 --host 127.0.0.1 --workers 2`. */
export function serverArgs() {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, workers: { type: 'string', default: '2' } },
  })
  return { port: Number(values.port), host: values.host, workers: Number(values.workers) }
}

/**
 * In the primary, forks `workers` workers and prints one JSON line {"msg":"<name> listening","port":…}
 * once every worker listens, then stops them on SIGTERM/SIGINT. In a worker, calls `serve`, which
 * listens and calls `listening(port)`. With 0 workers, serves in this process (bench/instructions.mjs).
 */
export function runCluster(name, workers, serve) {
  if (workers === 0) {
    serve((port) => process.stdout.write(JSON.stringify({ msg: `${name} listening`, port, workers, pid: process.pid }) + '\n'))
    return
  }
  if (!cluster.isPrimary) {
    serve((port) => process.send?.({ type: 'listening', port }))
    return
  }
  let listening = 0
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (m) => {
      if (m?.type === 'listening' && ++listening === workers) {
        process.stdout.write(JSON.stringify({ msg: `${name} listening`, port: m.port, workers, pid: process.pid }) + '\n')
      }
    })
  }
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM')
    setTimeout(() => process.exit(1), 5000).unref()
  }
  cluster.on('exit', () => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
  })
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/**
 * The response headers servekit sends on every response (src/server/security-headers.ts): the same
 * bytes on the wire, so the reference servers pay for them too (~6% of the bare server, measured).
 */
export const SECURITY_HEADERS = Object.freeze({
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
})

const SAFE_ID = /^[\x21-\x7e]{1,128}$/

/** servekit's request id: the body's, else a well-formed x-request-id header, else a new UUID. */
export const pickRequestId = (bodyId, header) =>
  bodyId !== undefined && SAFE_ID.test(bodyId) ? bodyId : typeof header === 'string' && SAFE_ID.test(header) ? header : randomUUID()

/**
 * The bench models, by hand: the same artifacts and arithmetic as bench/service/src/*.ts. `predict`
 * returns undefined for features the model's schema would refuse.
 */
export function loadModels() {
  const dir = new URL('../service/models/', import.meta.url)
  const { offset } = JSON.parse(readFileSync(new URL('sum/1/offset.json', dir), 'utf8'))
  const c = JSON.parse(readFileSync(new URL('tabular/1/coefficients.json', dir), 'utf8'))
  const names = c.feature_names
  const w = new Float64Array(names.length)
  let bias = c.intercept
  for (let i = 0; i < names.length; i++) {
    w[i] = c.weights[i] / c.scale[i]
    bias -= w[i] * c.mean[i]
  }
  const isObject = (f) => f !== null && typeof f === 'object' && !Array.isArray(f)
  return new Map([
    ['sum', {
      version: '1',
      predict(f) {
        if (!isObject(f)) return undefined
        let total = offset
        for (const k in f) {
          const v = f[k]
          if (typeof v !== 'number') return undefined
          total += v
        }
        return total
      },
    }],
    ['tabular', {
      version: '1',
      predict(f) {
        if (!isObject(f)) return undefined
        let z = bias
        for (let i = 0; i < names.length; i++) {
          const v = f[names[i]]
          if (typeof v !== 'number') return undefined
          z += w[i] * v
        }
        const p = 1 / (1 + Math.exp(-z))
        return { benign_probability: p, label: p >= c.threshold ? 'benign' : 'malignant' }
      },
    }],
  ])
}
