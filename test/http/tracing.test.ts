import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { startOtlpReceiver } from '../helpers/otlp-receiver.js'
import { postJson, startService } from '../helpers/start-service.js'


const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT_ID = '00f067aa0ba902b7'

describe('OpenTelemetry tracing', () => {
  it('continues the caller trace, answers with traceparent, and exports server, route and predict spans over OTLP', async () => {
    const receiver = await startOtlpReceiver()
    const config = fileURLToPath(new URL('../fixtures/service/tracing.config.ts', import.meta.url))
    const svc = await startService({ config, workers: 1, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' } })
    try {
      const res = await postJson(`${svc.url}/infer`, { model_id: 'sum', features: { a: 1 } }, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` })
      expect(res.status).toBe(200)
      const traceparent = res.headers.get('traceparent')
      expect(traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`))
      const serverSpanId = traceparent!.split('-')[2]

      const deadline = Date.now() + 15_000
      while (receiver.spans.filter((s) => s.traceId === TRACE_ID).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      const spans = receiver.spans.filter((s) => s.traceId === TRACE_ID)
      const server = spans.find((s) => s.name === 'POST /infer')
      expect(server).toMatchObject({ spanId: serverSpanId, parentSpanId: PARENT_ID, kind: 2 })
      expect(spans.find((s) => s.name === 'servekit.route')?.parentSpanId).toBe(serverSpanId)
      const predict = spans.find((s) => s.name === 'servekit.predict')
      expect(predict?.parentSpanId).toBe(serverSpanId)
      expect(predict?.attributes).toContainEqual({ key: 'servekit.model_version', value: { stringValue: '2' } })
    } finally {
      expect(await svc.stop()).toBe(0)
      await receiver.close()
    }
  })

  it('is off by default: no traceparent in responses', async () => {
    const svc = await startService({ workers: 1 })
    try {
      const res = await postJson(`${svc.url}/infer`, { model_id: 'sum', features: {} }, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` })
      expect(res.status).toBe(200)
      expect(res.headers.get('traceparent')).toBeNull()
    } finally {
      expect(await svc.stop()).toBe(0)
    }
  })
})
