import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/run-cli.js'
import { ROOT } from '../helpers/start-service.js'

/** The real bin, never rejecting (test/helpers/run-cli.ts). */
const servekit = (cwd: string, ...args: string[]) => runCli(args, { cwd })

/**
 * A small service in a temp directory: model `score` (y = w * x + bias, and a label) whose `bias`
 * each test sets to "change predict". Plain .mjs, so it needs neither servekit nor tsx to import.
 * The hand-written testData is approximate (tolerance 0.01), as such expectations are; the stored
 * expectations are what catch a small drift.
 */
async function writeService(dir: string, opts: { bias?: number; models?: string; extraCase?: boolean } = {}): Promise<void> {
  await mkdir(join(dir, 'models/score/1'), { recursive: true })
  await mkdir(join(dir, 'src'), { recursive: true })
  await writeFile(join(dir, 'models/score/1/weights.json'), JSON.stringify({ w: 0.5 }))
  const extra = opts.extraCase ? `{ name: 'extra', features: { x: 10 }, expected: { score: 5.1, label: 'high' }, tolerance: { absolute: 0.01 } },` : ''
  await writeFile(
    join(dir, 'src/score.mjs'),
    `export default {
  async load(artifact) { return artifact.readJson('weights.json') },
  predict(m, f) {
    if (typeof f.x !== 'number') throw new Error('x must be a number')
    return { score: m.w * f.x + ${opts.bias ?? 0.1}, label: f.x > 1 ? 'high' : 'low' }
  },
  testData: [
    { name: 'small', features: { x: 0.5 }, expected: { score: 0.35, label: 'low' }, tolerance: { absolute: 0.01 } },
    { name: 'x < 2 & "large"', features: { x: 3 }, expected: { score: 1.6, label: 'high' }, tolerance: { absolute: 0.01 } },
    ${extra}
  ],
}
`,
  )
  await writeFile(join(dir, 'servekit.config.mjs'), `export default { models: ${opts.models ?? `{ score: { module: './src/score.mjs' } }`} }\n`)
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'servekit-test-cmd-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const test_ = (...args: string[]) => servekit(dir, 'test', '--config', 'servekit.config.mjs', ...args)
const stored = async (model = 'score') => JSON.parse(await readFile(join(dir, 'testdata', `${model}.json`), 'utf8')) as { model_id: string; model_version: string; updated_at: string; cases: unknown[] }

describe('servekit test', () => {
  it('fails a model with no stored expectations, saying so', async () => {
    await writeService(dir)
    const { code, stdout, stderr } = await test_()
    expect(code).toBe(1)
    expect(stdout).toMatch(/^✗ score@1 {2}no stored expectations \(run servekit test --update\) {2}\d+ ms$/m)
    expect(stdout).toMatch(/^score@1 +stored expectations +- +- +no stored expectations \(run servekit test --update\)$/m)
    expect(stdout).toMatch(/^FAILED: 1 of 1 model \(0 of 0 cases failed\) in \d+ ms$/m)
    expect(stderr).toBe('')
  })

  it('--update writes testdata/<model>.json from testData and the current outputs; then the check passes', async () => {
    await writeService(dir)
    const update = await test_('--update')
    expect(update.code).toBe(0)
    expect(update.stdout).toMatch(/^✓ score@1 {2}wrote testdata\/score\.json {2}2 cases {2}\d+ ms$/m)

    const text = await readFile(join(dir, 'testdata/score.json'), 'utf8')
    const file = JSON.parse(text)
    expect(file).toEqual({
      model_id: 'score',
      model_version: '1',
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      cases: [
        { name: 'small', features: { x: 0.5 }, expected: { label: 'low', score: 0.35 } },
        { name: 'x < 2 & "large"', features: { x: 3 }, expected: { label: 'high', score: 1.6 } },
      ],
    })
    expect(text).toBe(JSON.stringify(file, null, 2) + '\n')

    const check = await test_()
    expect(check.code).toBe(0)
    expect(check.stdout).toMatch(/^✓ score@1 {2}2 cases {2}max error 0 {2}\d+ ms$/m)
    expect(check.stdout).toMatch(/^passed: 1 model, 2 cases in \d+ ms$/m)
    expect(check.stdout).not.toContain('expected')
  })

  it('leaves an unchanged file alone on --update (no updated_at churn in diffs)', async () => {
    await writeService(dir)
    await test_('--update')
    const before = await readFile(join(dir, 'testdata/score.json'), 'utf8')
    const again = await test_('--update')
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('✓ score@1  unchanged testdata/score.json  2 cases')
    expect(await readFile(join(dir, 'testdata/score.json'), 'utf8')).toBe(before)
  })

  it('fails with a table when predict changed, and passes again after --update', async () => {
    await writeService(dir)
    await test_('--update')
    await writeService(dir, { bias: 0.101 }) // a "refactor" that drifts by 1e-3: within testData's 0.01, not within 1e-6

    const failing = await test_()
    expect(failing.code).toBe(1)
    expect(failing.stdout).toMatch(/^✗ score@1 {2}2 cases, 2 failed {2}max error 1\.0e-3 {2}\d+ ms$/m)
    const lines = failing.stdout.split('\n')
    const header = lines.findIndex((l) => /^model +case +expected +got +error$/.test(l))
    expect(header).toBeGreaterThan(0)
    expect(lines[header + 1]).toMatch(/^-+ +-+ +-+ +-+ +-+$/)
    expect(lines[header + 2]).toMatch(/^score@1 +small +\{"label":"low","score":0\.35\} +\{"label":"low","score":0\.351\} +output\.score: expected \S+, got \S+ \(off by 1\.0e-3, tolerance \d\.\de-6\)$/)
    expect(lines[header + 3]).toMatch(/^score@1 +x < 2 & "large" +\{"label":"high","score":1\.6\} +\{"label":"high","score":1\.601\} +output\.score: expected \S+, got \S+ \(off by 1\.0e-3, tolerance \d\.\de-6\)$/)
    expect(failing.stdout).toMatch(/^FAILED: 1 of 1 model \(2 of 2 cases failed\) in \d+ ms$/m)

    const update = await test_('--update')
    expect(update.code).toBe(0)
    expect(update.stdout).toContain('✓ score@1  wrote testdata/score.json  2 cases')
    expect((await stored()).cases).toEqual([
      { name: 'small', features: { x: 0.5 }, expected: { label: 'low', score: 0.351 } },
      { name: 'x < 2 & "large"', features: { x: 3 }, expected: { label: 'high', score: 1.601 } },
    ])
    expect((await test_()).code).toBe(0)
  })

  it('checks a newer version against the stored outputs, noting which version they came from', async () => {
    await writeService(dir)
    await test_('--update')
    await mkdir(join(dir, 'models/score/2'), { recursive: true })
    await writeFile(join(dir, 'models/score/2/weights.json'), JSON.stringify({ w: 0.5 }))
    const same = await test_()
    expect(same.code).toBe(0)
    expect(same.stdout).toMatch(/^✓ score@2 {2}2 cases {2}max error 0 {2}\(expectations stored from @1\)/m)
    await writeFile(join(dir, 'models/score/2/weights.json'), JSON.stringify({ w: 0.6 }))
    const retrained = await test_()
    expect(retrained.code).toBe(1)
    expect(retrained.stdout).toMatch(/^✗ score@2 {2}2 cases, 2 failed/m)
  })

  it("uses the model's configured tolerance for floats", async () => {
    await writeService(dir, { models: `{ score: { module: './src/score.mjs', tolerance: { absolute: 0.005 } } }` })
    await test_('--update')
    await writeService(dir, { bias: 0.101, models: `{ score: { module: './src/score.mjs', tolerance: { absolute: 0.005 } } }` })
    const { code, stdout } = await test_()
    expect(code).toBe(0)
    expect(stdout).toMatch(/^✓ score@1 {2}2 cases {2}max error 1\.0e-3/m)
  })

  it('fails when testData gained or lost cases since the last --update', async () => {
    await writeService(dir)
    await test_('--update')
    await writeService(dir, { extraCase: true })
    const added = await test_()
    expect(added.code).toBe(1)
    expect(added.stdout).toMatch(/^score@1 +extra +- +- +in testData, but not stored \(run servekit test --update\)$/m)

    await test_('--update')
    await writeService(dir)
    const removed = await test_()
    expect(removed.code).toBe(1)
    expect(removed.stdout).toMatch(/^score@1 +extra +\{"label":"high","score":5\.1\} +- +stored, but no longer in testData \(run servekit test --update\)$/m)
  })

  it('fails a model whose self-test fails under selfTest: block, and --update refuses to write it', async () => {
    await writeService(dir)
    await test_('--update')
    const before = await readFile(join(dir, 'testdata/score.json'), 'utf8')
    await writeService(dir, { bias: 0.5 }) // far outside testData's tolerance too

    const check = await test_()
    expect(check.code).toBe(1)
    expect(check.stdout).toMatch(/^✗ score@1 {2}2 cases, 2 failed {2}max error 4\.0e-1 {2}\(self-test failed: 2 of 2 cases, selfTest: block\)/m)
    expect(check.stdout).toMatch(/^score@1 +self-test: small +\{"label":"low","score":0\.35\} +\{"label":"low","score":0\.75\} +output\.score: expected 0\.35, got 0\.75$/m)

    const update = await test_('--update')
    expect(update.code).toBe(1)
    expect(update.stdout).toContain('✗ score@1  not written: score@1 fails its self-test and its selfTest policy is block')
    expect(update.stdout).toMatch(/^FAILED: 1 of 1 model not written in \d+ ms$/m)
    expect(await readFile(join(dir, 'testdata/score.json'), 'utf8')).toBe(before)
  })

  it('under selfTest: warn, a failing self-test is shown but does not fail, and --update writes', async () => {
    await writeService(dir, { bias: 0.5, models: `{ score: { module: './src/score.mjs', selfTest: 'warn' } }` })
    const update = await test_('--update')
    expect(update.code).toBe(0)
    expect(update.stdout).toMatch(/^✓ score@1 {2}wrote testdata\/score\.json {2}2 cases {2}\(self-test failed: 2 of 2 cases, selfTest: warn\)/m)
    const check = await test_()
    expect(check.code).toBe(0)
    expect(check.stdout).toContain('(self-test failed: 2 of 2 cases, selfTest: warn)')
  })

  it('fails a model that does not load, with its error, and still checks the others', async () => {
    await writeService(dir, { models: `{ score: { module: './src/score.mjs' }, gone: { module: './src/missing.mjs' } }` })
    await mkdir(join(dir, 'models/gone/1'), { recursive: true })
    await test_('--update', '--model', 'score')
    const { code, stdout } = await test_()
    expect(code).toBe(1)
    expect(stdout).toMatch(/^✓ score@1 {2}2 cases/m)
    expect(stdout).toMatch(/^✗ gone {2}failed to load: cannot import model class .*missing\.mjs/m)
    expect(stdout).toMatch(/^gone +load @1 +- +- +cannot import model class/m)
  })

  it('--model limits the run to some models; an unknown one is an error', async () => {
    await writeService(dir, { models: `{ score: { module: './src/score.mjs' }, other: { module: './src/score.mjs' } }` })
    await mkdir(join(dir, 'models/other/1'), { recursive: true })
    await writeFile(join(dir, 'models/other/1/weights.json'), JSON.stringify({ w: 0.5 }))
    const update = await test_('--update', '--model', 'score')
    expect(update.code).toBe(0)
    expect(update.stdout).not.toContain('other')
    await expect(stat(join(dir, 'testdata/other.json'))).rejects.toThrow()
    expect((await test_('--model', 'score')).code).toBe(0)
    expect((await test_()).code).toBe(1)

    const unknown = await test_('--model', 'nope')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('servekit: model_not_found: model "nope" not found')
  })

  it('reads and writes the directory named by the config field testdata', async () => {
    await writeService(dir, { models: `{ score: { module: './src/score.mjs' } }, testdata: './expectations'` })
    expect((await test_('--update')).code).toBe(0)
    expect((await stat(join(dir, 'expectations/score.json'))).isFile()).toBe(true)
    expect((await test_()).code).toBe(0)
  })

  it('--reporter junit writes well-formed JUnit XML with one testcase per case and the failures', async () => {
    await writeService(dir, { models: `{ score: { module: './src/score.mjs' }, fresh: { module: './src/score.mjs' } }` })
    await mkdir(join(dir, 'models/fresh/1'), { recursive: true })
    await writeFile(join(dir, 'models/fresh/1/weights.json'), JSON.stringify({ w: 0.5 }))
    await test_('--update', '--model', 'score')
    await writeService(dir, { bias: 0.101, models: `{ score: { module: './src/score.mjs' }, fresh: { module: './src/score.mjs' } }` })

    const { code, stdout } = await test_('--reporter', 'junit', '--output', 'reports/junit.xml')
    expect(code).toBe(1)
    expect(stdout).toContain('JUnit report: reports/junit.xml')
    expect(stdout).toContain('✗ score@1  2 cases, 2 failed') // the human report is still there
    const xml = await readFile(join(dir, 'reports/junit.xml'), 'utf8')
    expectWellFormed(xml)
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="servekit test" tests="3" failures="3" errors="0"')).toBe(true)
    expect(count(xml, '<testsuite ')).toBe(2)
    expect(count(xml, '<testcase ')).toBe(3)
    expect(count(xml, '<failure ')).toBe(3)
    expect(xml).toContain('<testsuite name="score@1" tests="2" failures="2" errors="0"')
    expect(xml).toContain('<testcase classname="score" name="x &lt; 2 &amp; &quot;large&quot;"')
    expect(xml).toContain('<failure message="output.score: expected 1.6, got 1.601 (off by 1.0e-3, tolerance 2.6e-6)" type="mismatch">expected: {"label":"high","score":1.6}\ngot: {"label":"high","score":1.601}\nerror: output.score: expected 1.6, got 1.601 (off by 1.0e-3, tolerance 2.6e-6)</failure>')
    expect(xml).toContain('<testsuite name="fresh@1" tests="1" failures="1"')
    expect(xml).toContain('<testcase classname="fresh" name="stored expectations" time="0.000">\n      <failure message="no stored expectations (run servekit test --update)" type="mismatch">no stored expectations (run servekit test --update)</failure>')
  })

  it('defaults the JUnit file to servekit-junit.xml, and refuses --output without --reporter', async () => {
    await writeService(dir)
    await test_('--update')
    expect((await test_('--reporter', 'junit')).code).toBe(0)
    const xml = await readFile(join(dir, 'servekit-junit.xml'), 'utf8')
    expectWellFormed(xml)
    expect(count(xml, '<testcase ')).toBe(2)
    expect(count(xml, '<failure')).toBe(0)

    const usage = await test_('--output', 'x.xml')
    expect(usage.code).toBe(1)
    expect(usage.stderr).toContain("option '--output <file>' needs '--reporter junit'")
    const bad = await test_('--reporter', 'tap')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("argument 'tap' is invalid")
  })
})

describe('servekit test on the examples', () => {
  it('passes on the quickstart (what npm test runs)', async () => {
    const { code, stdout } = await servekit(ROOT, 'test', '--config', 'examples/quickstart/servekit.config.ts')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^✓ churn@1 {2}2 cases {2}max error \S+ {2}\d+ ms$/m)
    expect(stdout).toMatch(/^✓ shipping_eta@1 {2}3 cases {2}max error 0 {2}\d+ ms$/m)
  })

  it('passes on the frameworks example', async () => {
    const { code, stdout } = await servekit(ROOT, 'test', '--config', 'examples/frameworks/servekit.config.ts')
    expect(code).toBe(0)
    for (const m of ['tumor_xgboost', 'diabetes_lightgbm', 'tumor_onnx']) expect(stdout).toMatch(new RegExp(`^✓ ${m}@1 {2}\\d+ cases`, 'm'))
  })

  it('is listed by servekit --help, and npm test ends with it', async () => {
    const { stdout } = await servekit(ROOT, '--help')
    expect(stdout).toMatch(/test \[options\]\s+Check every model against the expected outputs/)
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.test).toMatch(/&& npm run test:models$/)
    expect(pkg.scripts['test:models']).toContain('node bin/servekit.js test --config examples/quickstart/servekit.config.ts')
  })
})

const count = (text: string, needle: string): number => text.split(needle).length - 1

/**
 * A small well-formedness check: tags nest and close, attribute values are quoted and escaped, text
 * holds no raw `<` and only known entities. Enough to catch broken escaping without an XML library.
 */
function expectWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml [^?]*\?>\n/, '')
  const stack: string[] = []
  const entity = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g
  for (const token of body.split(/(<[^>]*>)/)) {
    if (token.startsWith('<')) {
      const m = /^<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>$/.exec(token)
      expect(m, `malformed tag ${token}`).not.toBeNull()
      const [, closing, name, attributes, selfClosing] = m!
      expect(attributes!.replace(entity, '')).not.toMatch(/&/)
      if (closing) expect(stack.pop(), `unbalanced </${name}>`).toBe(name)
      else if (!selfClosing) stack.push(name!)
    } else {
      expect(token).not.toMatch(/[<>]/)
      expect(token.replace(entity, '')).not.toMatch(/&/)
      if (stack.length === 0) expect(token.trim()).toBe('')
    }
  }
  expect(stack).toEqual([])
}
