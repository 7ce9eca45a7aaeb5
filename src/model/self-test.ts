import { isServekitError } from '../errors.js'
import { compareOutputs } from './compare.js'
import type { AnyModelClass, Artifact, TestCase, Tolerance } from './interface.js'
import type { VersionPredict } from './version-predict.js'

/** One self-test case's outcome. */
export interface SelfTestCaseResult {
  readonly name: string
  readonly passed: boolean
  readonly expected: unknown
  readonly got: unknown
  /** Largest numeric difference; 0 when outputs hold no numbers. */
  readonly maxError: number
  /** Why it failed: where the outputs differ, or the error predict raised. */
  readonly reason: string | undefined
}

/** Outcome of a version's `testData`, kept on the version and shown on `GET /models`. */
export interface SelfTestReport {
  /** `none` when the model class has no test cases. */
  readonly status: 'passed' | 'failed' | 'none'
  readonly cases: number
  readonly failed: number
  readonly maxError: number
  readonly durationMs: number
  /** The failing cases (at most 10, so a report stays small). */
  readonly failures: readonly SelfTestCaseResult[]
}

const NEVER = new AbortController().signal

/** Reads a model class's test cases (a list, or a function of the loaded artifact). */
export async function readTestCases(model: AnyModelClass, artifact: Artifact, instance: unknown): Promise<readonly TestCase[]> {
  const data = model.testData
  if (data === undefined) return []
  return typeof data === 'function' ? await data(artifact, instance) : data
}

/** Runs test cases through `predict` (the request path) and compares each output with its expectation. */
export async function runCases(cases: readonly TestCase[], predict: VersionPredict, tolerance: Tolerance): Promise<SelfTestCaseResult[]> {
  const results: SelfTestCaseResult[] = []
  for (const [i, c] of cases.entries()) {
    const name = c.name ?? `case ${i}`
    try {
      const got = await predict(c.features, { parameters: {}, signal: NEVER })
      const cmp = compareOutputs(c.expected, got, c.tolerance ?? tolerance)
      results.push({ name, passed: cmp.equal, expected: c.expected, got, maxError: cmp.maxError, reason: cmp.equal ? undefined : `${cmp.where}: expected ${preview(cmp.expectedAt)}, got ${preview(cmp.gotAt)}` })
    } catch (err) {
      const reason = isServekitError(err) ? `${err.code}: ${err.message}` : String(err)
      results.push({ name, passed: false, expected: c.expected, got: undefined, maxError: Number.POSITIVE_INFINITY, reason })
    }
  }
  return results
}

/** The self-test after a load: every case of `testData`, summarised. */
export async function runSelfTest(model: AnyModelClass, artifact: Artifact, instance: unknown, predict: VersionPredict, tolerance: Tolerance): Promise<SelfTestReport> {
  const started = performance.now()
  const cases = await readTestCases(model, artifact, instance)
  const results = await runCases(cases, predict, tolerance)
  const failures = results.filter((r) => !r.passed)
  return {
    status: results.length === 0 ? 'none' : failures.length === 0 ? 'passed' : 'failed',
    cases: results.length,
    failed: failures.length,
    maxError: results.reduce((m, r) => Math.max(m, r.maxError), 0),
    durationMs: performance.now() - started,
    failures: failures.slice(0, 10),
  }
}

/** A short JSON rendering for messages and tables. */
export function preview(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
