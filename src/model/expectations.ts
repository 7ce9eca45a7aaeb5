import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isServekitError } from '../errors.js'
import type { ModelConfig } from '../config/schema.js'
import { compareOutputs, DEFAULT_TOLERANCE, type Comparison } from './compare.js'
import type { AnyModelClass, TestCase, Tolerance } from './interface.js'
import type { LoadedVersion } from './registry.js'
import { preview, readTestCases } from './self-test.js'

/**
 * Stored expectations: what `servekit test` checks a model against in CI.
 *
 * One file per model, `<testdata>/<model id>.json`, written by `servekit test --update` from the
 * model's `testData` cases and the outputs of the version that was accepted. It lives in the service
 * repository, so a change of outputs shows up as a diff in review and as a failing check in CI.
 */

/** One stored case: the features and the output the accepted version gave for them. */
export interface StoredCase {
  readonly name: string
  readonly features: unknown
  readonly expected: unknown
}

/** The content of `<testdata>/<model id>.json`. */
export interface StoredExpectations {
  readonly model_id: string
  /** The version whose outputs are stored. */
  readonly model_version: string
  /** ISO 8601 time of the `--update` that last changed the file. */
  readonly updated_at: string
  readonly cases: readonly StoredCase[]
}

/** What reading a stored file found. */
export type ReadExpectations =
  | { readonly status: 'missing'; readonly path: string }
  | { readonly status: 'invalid'; readonly path: string; readonly problem: string }
  | { readonly status: 'ok'; readonly path: string; readonly expectations: StoredExpectations }

/** The parts of a loaded version that checking and recording use. */
export type CheckedVersion = Pick<LoadedVersion, 'modelId' | 'version' | 'modelClass' | 'artifact' | 'instance' | 'predict'>

/** Path of a model's stored expectations. */
export function expectationsPath(dir: string, modelId: string): string {
  return join(dir, `${modelId}.json`)
}

/** The tolerance `servekit test` compares floats with: the config's, else the class's, else the default. */
export function resolveTolerance(config: Pick<ModelConfig, 'tolerance'>, modelClass: Pick<AnyModelClass, 'tolerance'>): Tolerance {
  return config.tolerance ?? modelClass.tolerance ?? DEFAULT_TOLERANCE
}

/** Reads and validates a model's stored expectations; a missing or malformed file is a result, not a throw. */
export async function readExpectations(dir: string, modelId: string): Promise<ReadExpectations> {
  const path = expectationsPath(dir, modelId)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing', path }
    return { status: 'invalid', path, problem: `cannot read: ${(err as Error).message}` }
  }
  try {
    return { status: 'ok', path, expectations: parseExpectations(text, modelId) }
  } catch (err) {
    return { status: 'invalid', path, problem: (err as Error).message }
  }
}

/** Parses a stored file's text; throws an Error naming the problem. */
export function parseExpectations(text: string, modelId: string): StoredExpectations {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new Error(`not valid JSON: ${(err as Error).message}`)
  }
  if (!isRecord(data)) throw new Error('must be an object {model_id, model_version, updated_at, cases}')
  const { model_id, model_version, updated_at, cases } = data
  if (model_id !== modelId) throw new Error(`"model_id" is ${JSON.stringify(model_id)}, expected "${modelId}"`)
  if (typeof model_version !== 'string') throw new Error('"model_version" must be a string')
  if (typeof updated_at !== 'string') throw new Error('"updated_at" must be a string')
  if (!Array.isArray(cases)) throw new Error('"cases" must be an array of {name, features, expected}')
  const seen = new Set<string>()
  const parsed = cases.map((c: unknown, i): StoredCase => {
    if (!isRecord(c) || typeof c.name !== 'string' || !('features' in c) || !('expected' in c)) {
      throw new Error(`cases[${i}] needs "name" (a string), "features" and "expected"`)
    }
    if (seen.has(c.name)) throw new Error(`cases[${i}]: duplicate name "${c.name}"`)
    seen.add(c.name)
    return { name: c.name, features: c.features, expected: c.expected }
  })
  return { model_id, model_version, updated_at, cases: parsed }
}

/**
 * The file's text: pretty-printed, keys in a stable order (the header's fixed, then sorted inside
 * features and outputs), trailing newline, so a change reviews as a small diff.
 */
export function formatExpectations(e: StoredExpectations): string {
  const file = {
    model_id: e.model_id,
    model_version: e.model_version,
    updated_at: e.updated_at,
    cases: e.cases.map((c) => ({ name: c.name, features: sortKeys(c.features), expected: sortKeys(c.expected) })),
  }
  return JSON.stringify(file, null, 2) + '\n'
}

/** Writes a model's stored expectations (creating the directory); returns the path. Atomic: temp file, then rename. */
export async function writeExpectations(dir: string, e: StoredExpectations): Promise<string> {
  const path = expectationsPath(dir, e.model_id)
  await mkdir(dir, { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, formatExpectations(e))
  await rename(tmp, path)
  return path
}

/** The `testData` cases with unique names (`case <i>` when unnamed; ` (2)`, ` (3)` on repeats) and JSON features. */
export async function currentCases(v: CheckedVersion): Promise<Array<{ name: string; features: unknown; source: TestCase }>> {
  const cases = await readTestCases(v.modelClass, v.artifact, v.instance)
  const used = new Set<string>()
  return cases.map((c, i) => {
    const base = c.name ?? `case ${i}`
    let name = base
    for (let n = 2; used.has(name); n++) name = `${base} (${n})`
    used.add(name)
    // Stored and checked as JSON: exactly what a request could carry.
    return { name, features: jsonCopy(c.features), source: c }
  })
}

/** Outcome of one case. */
export interface CaseCheck {
  readonly name: string
  readonly passed: boolean
  /** The stored output (undefined when the case is not stored). */
  readonly expected: unknown
  /** What the version gave (undefined when it threw or the case was not run). */
  readonly got: unknown
  /** Largest numeric difference in this case (0 when none; Infinity when predict threw). */
  readonly maxError: number
  /** Why it failed: where the outputs differ, what predict threw, or why the stored file is out of date. */
  readonly error: string | undefined
  /** What kind of failure: outputs differ, predict threw (an error rather than a failure in JUnit), or the stored file is out of date. */
  readonly kind: 'mismatch' | 'threw' | 'out_of_date' | undefined
  readonly durationMs: number
}

/** Outcome of checking one loaded version against its stored expectations. */
export interface ExpectationsCheck {
  /**
   * `passed`: every stored case matches and the stored cases are the testData cases; `failed`: some
   * case differs or the file is out of date; `missing`: no stored file; `invalid`: the file is malformed;
   * `no_cases`: the model has no testData, so there is nothing to check.
   */
  readonly status: 'passed' | 'failed' | 'missing' | 'invalid' | 'no_cases'
  /** For every status but `passed` and `failed`: what to tell the user. */
  readonly message: string | undefined
  /** The version the stored outputs came from. */
  readonly storedVersion: string | undefined
  readonly cases: readonly CaseCheck[]
  /** Largest numeric difference over the cases that ran (0 when none). */
  readonly maxError: number
}

export const UPDATE_HINT = 'run servekit test --update'
export const NO_CASES_MESSAGE = 'no testData cases: add testData to the model class (or testdata.json to the artifact) to test it'

const NEVER = new AbortController().signal

/**
 * Runs every stored case through the version's `predict` (the request path) and compares the output
 * with the stored one. Cases in `testData` but not stored, stored but no longer in `testData`, or
 * whose features changed, fail too: the file is out of date.
 */
export async function checkExpectations(v: CheckedVersion, stored: ReadExpectations, tolerance: Tolerance): Promise<ExpectationsCheck> {
  const current = await currentCases(v)
  const base = { storedVersion: undefined, cases: [], maxError: 0 }
  if (stored.status === 'invalid') return { ...base, status: 'invalid', message: `${stored.path}: ${stored.problem}` }
  if (stored.status === 'missing') {
    if (current.length === 0) return { ...base, status: 'no_cases', message: NO_CASES_MESSAGE }
    return { ...base, status: 'missing', message: `no stored expectations (${UPDATE_HINT})` }
  }
  const { expectations } = stored
  if (current.length === 0 && expectations.cases.length === 0) return { ...base, storedVersion: expectations.model_version, status: 'no_cases', message: NO_CASES_MESSAGE }

  const byName = new Map(current.map((c) => [c.name, c]))
  const results: CaseCheck[] = []
  for (const s of expectations.cases) {
    const now = byName.get(s.name)
    byName.delete(s.name)
    if (now === undefined) {
      results.push(outOfDate(s.name, s.expected, `stored, but no longer in testData (${UPDATE_HINT})`))
      continue
    }
    if (canonicalJson(now.features) !== canonicalJson(s.features)) {
      results.push(outOfDate(s.name, s.expected, `features changed in testData since they were stored (${UPDATE_HINT})`))
      continue
    }
    results.push(await runStoredCase(v, s, tolerance))
  }
  for (const c of byName.values()) results.push(outOfDate(c.name, undefined, `in testData, but not stored (${UPDATE_HINT})`))

  const passed = results.every((r) => r.passed)
  const maxError = results.reduce((m, r) => (Number.isFinite(r.maxError) ? Math.max(m, r.maxError) : m), 0)
  return { status: passed ? 'passed' : 'failed', message: undefined, storedVersion: expectations.model_version, cases: results, maxError }
}

async function runStoredCase(v: CheckedVersion, s: StoredCase, tolerance: Tolerance): Promise<CaseCheck> {
  const started = performance.now()
  let got: unknown
  try {
    got = await v.predict(s.features, { parameters: {}, signal: NEVER })
  } catch (err) {
    const error = isServekitError(err) ? `${err.code}: ${err.message}` : String(err)
    return { name: s.name, passed: false, expected: s.expected, got: undefined, maxError: Number.POSITIVE_INFINITY, error, kind: 'threw', durationMs: performance.now() - started }
  }
  const cmp = compareOutputs(s.expected, got, tolerance)
  const durationMs = performance.now() - started
  if (cmp.equal) return { name: s.name, passed: true, expected: s.expected, got, maxError: cmp.maxError, error: undefined, kind: undefined, durationMs }
  return { name: s.name, passed: false, expected: s.expected, got, maxError: cmp.maxError, error: describeDifference(cmp, tolerance), kind: 'mismatch', durationMs }
}

const outOfDate = (name: string, expected: unknown, error: string): CaseCheck => ({ name, passed: false, expected, got: undefined, maxError: 0, error, kind: 'out_of_date', durationMs: 0 })

/** What the first difference is, for people: `output.p: expected 0.5, got 0.512 (off by 1.2e-2, tolerance 1.5e-6)`. */
export function describeDifference(cmp: Comparison, tolerance: Tolerance): string {
  const { where, expectedAt: want, gotAt: got } = cmp
  if (typeof want === 'number' && typeof got === 'number' && Number.isFinite(want) && Number.isFinite(got)) {
    const diff = Math.abs(got - want)
    if (Number.isInteger(want) && Number.isInteger(got)) return `${where}: expected ${want}, got ${got} (integers must be equal)`
    const allowed = (tolerance.absolute ?? DEFAULT_TOLERANCE.absolute) + (tolerance.relative ?? DEFAULT_TOLERANCE.relative) * Math.abs(want)
    return `${where}: expected ${want}, got ${got} (off by ${formatError(diff)}, tolerance ${formatError(allowed)})`
  }
  if (Array.isArray(want) && Array.isArray(got) && want.length !== got.length) return `${where}: expected ${want.length} items, got ${got.length}`
  if (isRecord(want) && isRecord(got)) {
    const missing = Object.keys(want).filter((k) => !Object.hasOwn(got, k))
    const extra = Object.keys(got).filter((k) => !Object.hasOwn(want, k))
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unexpected ${extra.join(', ')}` : ''].filter(Boolean)
    if (parts.length) return `${where}: ${parts.join('; ')}`
  }
  return `${where}: expected ${preview(want)}, got ${preview(got)}`
}

/** A numeric error for people: `0`, `3.2e-8`, `1.5e+2`. */
export function formatError(n: number): string {
  if (n === 0) return '0'
  if (!Number.isFinite(n)) return String(n)
  return n.toExponential(1)
}

/** Why recording a model's expectations was refused. */
export interface RecordProblem {
  readonly name: string
  readonly expected: unknown
  readonly got: unknown
  readonly error: string
}

export type RecordResult =
  | { readonly status: 'recorded'; readonly expectations: StoredExpectations }
  | { readonly status: 'refused'; readonly message: string; readonly problems: readonly RecordProblem[] }

/**
 * Runs the `testData` cases through the version and returns the expectations to store: each case's
 * features and the output it gave. Refused when there are no cases, when a case throws or gives an
 * output JSON cannot carry exactly, or when a second run differs (a model whose outputs are not
 * reproducible within its tolerance would make every CI run a coin toss).
 */
export async function recordExpectations(v: CheckedVersion, tolerance: Tolerance, now: Date = new Date()): Promise<RecordResult> {
  const cases = await currentCases(v)
  if (cases.length === 0) return { status: 'refused', message: NO_CASES_MESSAGE, problems: [] }
  const stored: StoredCase[] = []
  const problems: RecordProblem[] = []
  for (const c of cases) {
    let got: unknown
    try {
      got = await v.predict(c.features, { parameters: {}, signal: NEVER })
    } catch (err) {
      problems.push({ name: c.name, expected: c.source.expected, got: undefined, error: isServekitError(err) ? `${err.code}: ${err.message}` : String(err) })
      continue
    }
    const asJson = jsonCopy(got)
    const cmp = compareOutputs(got, asJson, { absolute: 0, relative: 0 })
    if (!cmp.equal) {
      problems.push({ name: c.name, expected: c.source.expected, got, error: `${cmp.where}: ${preview(cmp.expectedAt)} cannot be stored as JSON` })
      continue
    }
    stored.push({ name: c.name, features: c.features, expected: asJson })
  }
  if (problems.length > 0) return { status: 'refused', message: `${problems.length} of ${cases.length} cases cannot be recorded`, problems }

  const expectations: StoredExpectations = { model_id: v.modelId, model_version: v.version, updated_at: now.toISOString(), cases: stored }
  const again = await checkExpectations(v, { status: 'ok', path: '', expectations }, tolerance)
  if (again.status !== 'passed') {
    const differing = again.cases.filter((c) => !c.passed)
    return {
      status: 'refused',
      message: `outputs are not reproducible: a second run differs in ${differing.length} of ${cases.length} cases`,
      problems: differing.map((c) => ({ name: c.name, expected: c.expected, got: c.got, error: c.error ?? 'differs' })),
    }
  }
  return { status: 'recorded', expectations }
}

/** True when two stored files hold the same version and cases (`updated_at` aside): `--update` then leaves the file alone. */
export function sameExpectations(a: StoredExpectations, b: StoredExpectations): boolean {
  return formatExpectations({ ...a, updated_at: '' }) === formatExpectations({ ...b, updated_at: '' })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** A JSON round trip: what a request body or the stored file would hold (`undefined` when not representable). */
function jsonCopy(value: unknown): unknown {
  const text = JSON.stringify(value)
  return text === undefined ? undefined : JSON.parse(text)
}

/** Objects with their keys sorted, recursively; arrays and scalars as they are. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (!isRecord(value)) return value
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k])
  return out
}

const canonicalJson = (value: unknown): string => JSON.stringify(sortKeys(value)) ?? 'undefined'
