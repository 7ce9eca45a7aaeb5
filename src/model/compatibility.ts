import { isServekitError } from '../errors.js'
import { readTestCases } from './self-test.js'
import type { LoadedVersion } from './version-loader.js'

const NEVER = new AbortController().signal

/**
 * Sends the serving version's self-test features through a candidate's schema and predict. Returns
 * what the candidate rejects (field and reason), empty when it accepts everything clients send today.
 */
export async function findIncompatibilities(serving: LoadedVersion, candidate: LoadedVersion): Promise<string[]> {
  const cases = await readTestCases(serving.modelClass, serving.artifact, serving.instance)
  const problems: string[] = []
  for (const [i, c] of cases.entries()) {
    try {
      await candidate.predict(c.features, { parameters: {}, signal: NEVER })
    } catch (err) {
      const field = isServekitError(err) ? err.details?.['field'] : undefined
      const reason = err instanceof Error ? err.message : String(err)
      problems.push(`${c.name ?? `case ${i}`}: ${typeof field === 'string' ? `${field}: ` : ''}${reason}`)
    }
  }
  return problems
}
