/**
 * One prediction as observers see it: the prediction log (analytics events) and drift monitoring.
 * Field names are servekit's JSON vocabulary, so an event can be written as it is.
 */
export interface PredictionEvent {
  /** ISO 8601 time the request was received. */
  readonly ts: string
  readonly request_id: string
  readonly model_id: string
  readonly model_version: string
  /** The experiment arm that served, or null outside experiments. */
  readonly arm: string | null
  readonly features: unknown
  readonly output: unknown
  /** Time in the data plane (routing, batching, predict), in milliseconds, to the microsecond. */
  readonly latency_ms: number
  /** Shadow predictions made for this request, once they finished; empty when none. */
  readonly shadows: readonly ShadowRecord[]
}

/** A shadow target's outcome beside the primary's. */
export interface ShadowRecord {
  /** `name@version` of the shadow target. */
  readonly target: string
  readonly output: unknown
  readonly error: { code: string; message: string } | null
  /** In milliseconds, to the microsecond. */
  readonly latency_ms: number
  /** Whether the shadow agreed with the primary (numbers within tolerance, else deep equality). */
  readonly agreed: boolean
  /** Largest |shadow - primary| over numeric outputs; null when not numeric. */
  readonly max_abs_diff: number | null
}

/**
 * Receives prediction events off the request path. Must return quickly and never throw: queue the
 * event (bounded) and do the work later.
 */
export interface PredictionListener {
  /** Cheap pre-check so the data plane can skip building an event nobody wants (sampling). */
  wants(modelId: string): boolean
  /**
   * `bodyJson`: the request body's JSON text when the event's features came from it (HTTP), for a
   * listener that writes the features as JSON and can copy their text (PredictRequest.bodyJson).
   */
  record(event: PredictionEvent, bodyJson?: string): void
  /** Flush what is queued (graceful shutdown). */
  close(): Promise<void>
}
