/**
 * `new Date(ms).toISOString()` costs ~0.7 µs here (V8 formats it with snprintf), and the access log
 * and prediction events each want one per request. The text up to the minute is kept and reused
 * while the minute is the same; the seconds and milliseconds are written from integers. Under load
 * many requests also share a millisecond: then the whole string is reused.
 */
let lastMs = Number.NaN
let lastIso = ''
/** The minute `minutePrefix` is for, as `Date.now()`-style milliseconds at its start. */
let minuteStart = Number.NaN
/** `2026-11-28T15:20:` */
let minutePrefix = ''

const MINUTE_MS = 60_000

/** ISO 8601 of a `Date.now()`-style time, e.g. `2026-11-28T15:20:09.123Z`: exactly `new Date(ms).toISOString()`. */
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso
  const intoMinute = ms - minuteStart
  if (Number.isInteger(ms) && intoMinute >= 0 && intoMinute < MINUTE_MS) {
    const seconds = Math.floor(intoMinute / 1000)
    const millis = intoMinute - seconds * 1000
    lastIso = minutePrefix + (seconds < 10 ? '0' : '') + seconds + (millis < 10 ? '.00' : millis < 100 ? '.0' : '.') + millis + 'Z'
  } else {
    // Another minute, a fraction of a millisecond, or a time without a plain ISO form: V8's.
    lastIso = new Date(ms).toISOString()
    if (Number.isInteger(ms) && lastIso.length === 24) {
      minuteStart = ms - (ms % MINUTE_MS + MINUTE_MS) % MINUTE_MS
      minutePrefix = lastIso.slice(0, 17)
    }
  }
  lastMs = ms
  return lastIso
}
