/**
 * JSON text for the parts of an access-log line or a prediction event that are written on every
 * request. Each gives exactly what `JSON.stringify` gives for the same value, without its call into
 * C++ (~0.2 µs each here) in the usual case: an event has eight such parts.
 */

/** Characters a JSON string must escape: a string without any is quoted as it is. */
const NEEDS_ESCAPE = /["\\\x00-\x1f\u2028\u2029\ud800-\udfff]/

/** Printable ASCII but `"` and `\`: nothing to escape, and irregexp checks it faster than NEEDS_ESCAPE (a one-byte pattern). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** A string as JSON: the usual id, version or time needs no escape, and skips JSON.stringify. */
export const quoted = (s: string): string => (PLAIN.test(s) || !NEEDS_ESCAPE.test(s) ? '"' + s + '"' : JSON.stringify(s))

/**
 * `quoted`, remembering its last string: for a field that mostly repeats from one line to the next
 * (a model id, a version, the time), where even the escape check (~250 instructions) is saved.
 */
export function quotedRepeating(): (s: string) => string {
  let last: string | undefined
  let json = ''
  return (s) => {
    if (s !== last) {
      json = quoted(s)
      last = s
    }
    return json
  }
}

/**
 * Up to here, every count of microseconds divided by 1000 is a double whose shortest decimal form
 * is the count's own digits (adjacent thousandths are far more than a double's spacing apart), so
 * the digits can be written from the integer. ~11.6 days.
 */
const MAX_EXACT_US = 1e12

/**
 * Microseconds as milliseconds, as `JSON.stringify(us / 1000)` writes them (`1.046`, `0.05`, `2`),
 * from integers: formatting the double itself takes V8's shortest-representation algorithm,
 * several times slower. Anything else (a fraction, a negative, NaN) goes through JSON.stringify.
 */
export function millisJson(us: number): string {
  if (!Number.isInteger(us) || us < 0 || us > MAX_EXACT_US) return JSON.stringify(us / 1000)
  const whole = Math.floor(us / 1000)
  let frac = us % 1000
  if (frac === 0) return String(whole)
  // Three decimals, then the trailing zeros dropped.
  let decimals = 3
  while (frac % 10 === 0) {
    frac /= 10
    decimals--
  }
  const digits = String(frac)
  return whole + '.' + '00'.slice(0, decimals - digits.length) + digits
}

/** A time in milliseconds as JSON: fast for one rounded to the microsecond (`roundMs`), JSON.stringify otherwise. */
export function msJson(ms: number): string {
  const us = Math.round(ms * 1000)
  return us / 1000 === ms ? millisJson(us) : JSON.stringify(ms)
}

/** Milliseconds rounded to the microsecond: what events and logs report, and cheap to write (`msJson`). */
export const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000
