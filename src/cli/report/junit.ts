import { previewValue } from './table.js'
import { modelLabel, type ModelReport } from './types.js'

/** Longest expected/got value written into a failure's body. */
const MAX_VALUE_CHARS = 10_000

/**
 * JUnit XML for CI systems (GitHub, GitLab, Jenkins, CircleCI read it): one `<testsuite>` per model,
 * one `<testcase>` per case, `<failure>` for a difference and `<error>` for something that threw,
 * each with the expected and got values in its body.
 */
export function junitXml(reports: readonly ModelReport[], options: { name?: string; timestamp?: Date } = {}): string {
  const timestamp = (options.timestamp ?? new Date()).toISOString().replace(/\.\d+Z$/, '')
  const count = (r: ModelReport, s: 'failure' | 'error'): number => r.cases.filter((c) => !c.passed && c.severity === s).length
  const total = { tests: 0, failures: 0, errors: 0, time: 0 }
  const suites = reports.map((r) => {
    const tests = r.cases.length
    const failures = count(r, 'failure')
    const errors = count(r, 'error')
    total.tests += tests
    total.failures += failures
    total.errors += errors
    total.time += r.durationMs
    const cases = r.cases.map((c) => {
      const open = `    <testcase ${attrs({ classname: r.modelId, name: c.name, time: seconds(c.durationMs) })}`
      if (c.passed) return `${open}/>`
      // A model-level problem (no stored file, a load error) has no values: its body is the message.
      const values = c.expected === undefined && c.got === undefined ? [] : [`expected: ${value(c.expected)}`, `got: ${value(c.got)}`]
      const body = [...values, values.length ? `error: ${c.error ?? ''}` : (c.error ?? '')].join('\n')
      return `${open}>\n      <${c.severity} ${attrs({ message: c.error ?? 'failed', type: c.severity === 'error' ? 'error' : 'mismatch' })}>${escapeText(body)}</${c.severity}>\n    </testcase>`
    })
    const props = r.version === undefined ? [] : [`    <properties>`, `      <property ${attrs({ name: 'model_version', value: r.version })}/>`, `    </properties>`]
    return [
      `  <testsuite ${attrs({ name: modelLabel(r), tests, failures, errors, skipped: 0, time: seconds(r.durationMs), timestamp })}>`,
      ...props,
      ...cases,
      `  </testsuite>`,
    ].join('\n')
  })
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${attrs({ name: options.name ?? 'servekit test', tests: total.tests, failures: total.failures, errors: total.errors, time: seconds(total.time) })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n')
}

function value(v: unknown): string {
  const text = previewValue(v)
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3)

function attrs(record: Record<string, string | number>): string {
  return Object.entries(record)
    .map(([k, v]) => `${k}="${escapeAttribute(String(v))}"`)
    .join(' ')
}

/** Characters XML 1.0 cannot hold at all (most C0 controls, unpaired surrogates, U+FFFE/U+FFFF). */
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Escapes element text. */
export function escapeText(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Escapes an attribute value (quotes, and newlines kept as character references). */
export function escapeAttribute(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;')
}
