import type { Tolerance } from './interface.js'

/** Used when neither the model class nor the config gives a tolerance. */
export const DEFAULT_TOLERANCE: Required<Tolerance> = { absolute: 1e-6, relative: 1e-6 }

/** How a got value differs from an expected one. */
export interface Comparison {
  readonly equal: boolean
  /** Largest |got - expected| over the numbers compared (0 when there were none). */
  readonly maxError: number
  /** Where the first difference is, e.g. `output[2].score`; empty when equal. */
  readonly where: string
  /** The expected and got values at `where`. */
  readonly expectedAt: unknown
  readonly gotAt: unknown
}

/**
 * Deep comparison for self-tests: strings, booleans and pairs of integers must be equal; other numbers
 * must satisfy |got - expected| <= absolute + relative * |expected|; arrays and objects compare member-wise
 * and must have the same length and keys.
 */
export function compareOutputs(expected: unknown, got: unknown, tolerance: Tolerance = DEFAULT_TOLERANCE): Comparison {
  const tol = { absolute: tolerance.absolute ?? DEFAULT_TOLERANCE.absolute, relative: tolerance.relative ?? DEFAULT_TOLERANCE.relative }
  const state: State = { maxError: 0, where: '', expectedAt: undefined, gotAt: undefined }
  const equal = walk(expected, got, tol, 'output', state)
  return { equal, maxError: state.maxError, where: equal ? '' : state.where, expectedAt: state.expectedAt, gotAt: state.gotAt }
}

interface State {
  maxError: number
  where: string
  expectedAt: unknown
  gotAt: unknown
}

function walk(want: unknown, got: unknown, tol: Required<Tolerance>, path: string, state: State): boolean {
  const fail = (): false => {
    if (!state.where) Object.assign(state, { where: path, expectedAt: want, gotAt: got })
    return false
  }
  if (typeof want === 'number' && typeof got === 'number') {
    if (Number.isNaN(want) || Number.isNaN(got)) return Number.isNaN(want) && Number.isNaN(got) ? true : fail()
    const err = Math.abs(got - want)
    if (err > state.maxError) state.maxError = err
    // Two integers (class ids, counts) must match exactly; tolerance is for floats.
    if (Number.isInteger(want) && Number.isInteger(got)) return err === 0 ? true : fail()
    return err <= tol.absolute + tol.relative * Math.abs(want) ? true : fail()
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return fail()
    let ok = true
    for (let i = 0; i < want.length; i++) ok = walk(want[i], got[i], tol, `${path}[${i}]`, state) && ok
    return ok
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) return fail()
    const wantKeys = Object.keys(want)
    const gotKeys = Object.keys(got)
    if (wantKeys.length !== gotKeys.length || !wantKeys.every((k) => Object.hasOwn(got, k))) return fail()
    let ok = true
    for (const k of wantKeys) ok = walk((want as Record<string, unknown>)[k], (got as Record<string, unknown>)[k], tol, `${path}.${k}`, state) && ok
    return ok
  }
  return Object.is(want, got) || (want === 0 && got === 0) ? true : fail()
}
