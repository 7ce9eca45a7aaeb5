/**
 * What drift monitoring and `servekit profile` count as numeric features: the finite numbers of a
 * flat record (by key), or of an array (named by position: "0", "1", …). Anything else (strings,
 * booleans, nested objects) is not monitored; null, NaN or an absent key count as missing.
 */
export function forEachNumber(features: unknown, visit: (name: string, value: number) => void): void {
  if (Array.isArray(features)) {
    for (let i = 0; i < features.length; i++) {
      const x: unknown = features[i]
      if (typeof x === 'number' && Number.isFinite(x)) visit(String(i), x)
    }
  } else if (typeof features === 'object' && features !== null) {
    const record = features as Record<string, unknown>
    for (const name in record) {
      const x = record[name]
      // "__proto__" cannot be a key of the plain objects snapshots are made of.
      if (typeof x === 'number' && Number.isFinite(x) && name !== '__proto__') visit(name, x)
    }
  }
}

/**
 * The monitored number of an output: the output itself when it is a number, else a numeric field of
 * an object output (`field`, or when undefined the first numeric field). Returns the field used.
 */
export function outputNumber(output: unknown, field: string | undefined): { value: number; field: string | undefined } | undefined {
  if (typeof output === 'number') return Number.isFinite(output) ? { value: output, field: undefined } : undefined
  if (typeof output !== 'object' || output === null || Array.isArray(output)) return undefined
  const record = output as Record<string, unknown>
  const name = field ?? Object.keys(record).find((k) => typeof record[k] === 'number' && Number.isFinite(record[k]))
  if (name === undefined) return undefined
  const y = record[name]
  return typeof y === 'number' && Number.isFinite(y) ? { value: y, field: name } : undefined
}
