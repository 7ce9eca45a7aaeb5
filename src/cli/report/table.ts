import { modelLabel, type ModelReport } from './types.js'

/** The progress line printed as each model finishes: `✓ churn@1  2 cases  max error 3.2e-8  14 ms`. */
export function progressLine(r: ModelReport): string {
  const notes = r.notes.map((n) => `  (${n})`).join('')
  return `${r.passed ? '✓' : '✗'} ${modelLabel(r)}  ${cut(oneLine(r.summary), 200)}${notes}  ${formatMs(r.durationMs)}`
}

/** Widest a column gets before its values are cut with `…`. */
const WIDTHS = { model: 24, case: 32, expected: 32, got: 32, error: 120 } as const
const COLUMNS = ['model', 'case', 'expected', 'got', 'error'] as const

/**
 * The failing cases of every model as a plain-text table (model, case, expected, got, error), or an
 * empty string when nothing failed. Values are compact JSON, cut to a readable width.
 */
export function differencesTable(reports: readonly ModelReport[]): string {
  const rows = reports.flatMap((r) =>
    r.cases
      .filter((c) => !c.passed)
      .map((c) => ({ model: modelLabel(r), case: c.name, expected: previewValue(c.expected), got: previewValue(c.got), error: c.error ?? '' })),
  )
  if (rows.length === 0) return ''
  const cells = rows.map((row) => COLUMNS.map((col) => cut(oneLine(row[col]), WIDTHS[col])))
  const widths = COLUMNS.map((col, i) => Math.max(col.length, ...cells.map((c) => c[i]!.length)))
  const line = (values: readonly string[]): string => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(COLUMNS), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n'
}

/** Compact JSON for a table cell, keys sorted so expected and got line up by eye (as in the stored file); `-` for no value. */
export function previewValue(value: unknown): string {
  if (value === undefined) return '-'
  return JSON.stringify(sortKeys(value)) ?? String(value)
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k])
  return out
}

/** `14 ms`, `2.3 s`. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ')

function cut(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`
}
