/**
 * What `servekit test` reports, independent of how it is rendered (progress lines and a table for
 * people, JUnit XML for CI systems).
 */

/** One checked case, or a model-level problem shown as a case (`load`, `stored expectations`, `self-test: …`). */
export interface ReportCase {
  readonly name: string
  readonly passed: boolean
  /** The stored (or hand-written, for self-test rows) output; undefined when there is none. */
  readonly expected: unknown
  /** What the version gave; undefined when it threw or did not run. */
  readonly got: unknown
  /** Why it failed; undefined when it passed. */
  readonly error: string | undefined
  /** JUnit's distinction: `error` for something that threw (load, predict), `failure` for a difference. */
  readonly severity: 'failure' | 'error'
  /** `case`: a stored case; `model`: a problem of the whole model (load, stored file, self-test), not counted as a case. */
  readonly scope: 'case' | 'model'
  readonly durationMs: number
}

/** One model's outcome. */
export interface ModelReport {
  readonly modelId: string
  /** The loaded version; undefined when the model failed to load. */
  readonly version: string | undefined
  readonly passed: boolean
  /** The middle of the progress line, e.g. `2 cases  max error 3.2e-8`. */
  readonly summary: string
  /** Worth knowing but not failures, e.g. `self-test failed, selfTest: warn`. */
  readonly notes: readonly string[]
  readonly cases: readonly ReportCase[]
  readonly durationMs: number
}

/** `churn@3`, or `churn` when no version loaded. */
export const modelLabel = (r: Pick<ModelReport, 'modelId' | 'version'>): string => (r.version === undefined ? r.modelId : `${r.modelId}@${r.version}`)
