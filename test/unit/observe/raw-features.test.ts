import { describe, expect, it } from 'vitest'
import { rawFeatures } from '../../../src/observe/raw-features.js'

describe('rawFeatures', () => {
  it('is the features text exactly as sent, wherever the member is, whatever else the body holds', () => {
    const features = '{"mean_area":396.0,"x":1e3,"y":-0.5E-2,"name":"a \\"quoted\\" {x}, [y]","nested":{"l":[1,[2,{}]],"e":{}},"u":"\\u00e9€","t":true,"n":null}'
    expect(rawFeatures(`{"model_id":"m","features":${features}}`)).toBe(features)
    expect(rawFeatures(`{"features":${features},"model_id":"m","request_id":"r-1"}`)).toBe(features)
    // Whitespace between the members does not matter; only inside the features.
    expect(rawFeatures(`{\n  "model_id": "m",\n  "parameters": {"a": [1, 2]},\n  "features": ${features}\n}\n`)).toBe(features)
    expect(rawFeatures(`{"model_id":"features","parameters":{"features":{"no":1}},"features":${features}}`)).toBe(features)
  })

  it('takes any JSON value: arrays, strings, numbers, literals', () => {
    for (const value of ['[1,2.50,3]', '[]', '{}', '"text with spaces"', '42', '-1.5e10', 'true', 'null', '[[1,2],[3,4]]']) {
      expect(rawFeatures(`{"model_id":"m","features":${value},"request_id":"r"}`)).toBe(value)
      expect(rawFeatures(`{"model_id":"m","features":${value}}`)).toBe(value)
      expect(rawFeatures(`{"features":${value} ,"model_id":"m"}`)).toBe(value)
    }
  })

  it('finds the end of features that are the last member, whatever brackets or spaces they hold', () => {
    // Each of these ends the body; some are found by the closing-bracket search, the rest by the scans.
    for (const value of ['{"a":1,"b":[2,3]}', '{}', '[]', '[{"a":1},{"b":2}]', '{"s":"x}y"}', '{"s":"a b","t":"]"}', '{"a":{"b":1}}', '[[1],[2]]', '["a}","b]"]']) {
      expect(rawFeatures(`{"model_id":"m","features":${value}}`)).toBe(value)
      expect(rawFeatures(`{"model_id":"m","features":${value}\n}\n`)).toBe(value)
      expect(rawFeatures(`{"model_id":"m","features":${value},"request_id":"r"}`)).toBe(value)
    }
    // A member after the features, found by the search from the end: never part of the value.
    expect(rawFeatures('{"features":{"a":1},"parameters":{"b":2}}')).toBe('{"a":1}')
    expect(rawFeatures('{"features":[1,2],"parameters":{"b":[3]}}')).toBe('[1,2]')
    expect(rawFeatures('{"features":{"a":1},"features":{"a":2}}')).toBeUndefined()
    expect(rawFeatures('{"model_id":"m","features":{"a":\t1}}')).toBeUndefined()
    // The one-match prefix (string and scalar members before it) and its edges.
    expect(rawFeatures('{"features2":1,"request_id":"features","n":null,"features":{"a":1}}')).toBe('{"a":1}')
    expect(rawFeatures('{"model_id":"m","features":{"a":1},"model_id":"x"}')).toBe('{"a":1}')
    expect(rawFeatures('{"model_id":"m","features":{"a":1},"features":{"a":1}}')).toBeUndefined()
    expect(rawFeatures('{"feat\\u0075res":{"a":1},"features":{"b":2}}')).toBeUndefined()
    expect(rawFeatures('{"model_id":"a\\"b","features":{"a":1}}')).toBe('{"a":1}')
  })

  it('is undefined when the features are not one compact member, so that the caller encodes them', () => {
    // Whitespace inside the value (a newline would break a JSON line).
    expect(rawFeatures('{"model_id":"m","features":{"a": 1}}')).toBeUndefined()
    expect(rawFeatures('{"model_id":"m","features":[1,\n2]}')).toBeUndefined()
    // Twice (JSON.parse keeps the last one), or spelled with an escape, or absent.
    expect(rawFeatures('{"features":{"a":1},"features":{"a":2}}')).toBeUndefined()
    expect(rawFeatures('{"feat\\u0075res":{"a":1}}')).toBeUndefined()
    expect(rawFeatures('{"model_id":"m","feature":{"a":1}}')).toBeUndefined()
    expect(rawFeatures('{}')).toBeUndefined()
    // Not an object.
    expect(rawFeatures('[{"features":1}]')).toBeUndefined()
    expect(rawFeatures('"features"')).toBeUndefined()
  })

  it('agrees with JSON.parse on generated bodies, compact or not', () => {
    // A seeded generator: the same cases on every run.
    let seed = 42
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const text = (): string => ['a', 'features', ' b ', 'é"\\', '{[,]}:', '\u2028', 'x\ny'][Math.floor(rand() * 7)]!
    const value = (depth: number): unknown => {
      const r = rand()
      if (depth > 2 || r < 0.3) return Math.round(rand() * 1e6) / 1e3 - 500
      if (r < 0.4) return text()
      if (r < 0.5) return [true, false, null][Math.floor(rand() * 3)]
      if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1))
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [text(), value(depth + 1)]))
    }
    let copied = 0
    for (let i = 0; i < 500; i++) {
      const members: Array<[string, unknown]> = [['model_id', 'm'], ['features', value(0)], ['request_id', text()], ['parameters', value(1)]]
      members.sort(() => rand() - 0.5)
      const pretty = rand() < 0.3
      const body = JSON.stringify(Object.fromEntries(members), null, pretty ? 2 : undefined)
      const features = JSON.parse(body).features as unknown
      const raw = rawFeatures(body)
      if (raw === undefined) {
        // Only pretty-printed features have whitespace of their own: a non-empty array or object.
        expect(pretty).toBe(true)
        expect(JSON.stringify(features)).toMatch(/^(\[.+\]|\{.+\})$/s)
        continue
      }
      copied++
      expect(raw).toBe(JSON.stringify(features))
    }
    expect(copied).toBeGreaterThan(350)
  })
})

describe('rawFeatures on long values', () => {
  it('takes linear time when the fast match fails late (no backtracking blow-up)', () => {
    const digits = '1'.repeat(200_000)
    expect(rawFeatures(`{"features":{"a":${digits} }}`)).toBeUndefined()
    expect(rawFeatures(`{"features":[${digits},${digits} ]}`)).toBeUndefined()
    expect(rawFeatures(`{"features":{"a":[${digits}]}}`)).toBe(`{"a":[${digits}]}`)
  })
})
