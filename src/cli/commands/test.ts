import { Option, type Command } from 'commander'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, relative, resolve } from 'node:path'
import { ServekitError } from '../../errors.js'
import { DEFAULT_CONFIG_FILE, loadConfig, type LoadedConfig } from '../../config/load-config.js'
import type { ModelConfig } from '../../config/schema.js'
import {
  checkExpectations,
  expectationsPath,
  formatError,
  readExpectations,
  recordExpectations,
  resolveTolerance,
  sameExpectations,
  writeExpectations,
  type ExpectationsCheck,
} from '../../model/expectations.js'
import { ModelRegistry, type LoadedVersion } from '../../model/registry.js'
import { createLogger, type Logger } from '../../observe/logger.js'
import { createStore } from '../../store/create-store.js'
import type { ModelStore } from '../../store/model-store.js'
import { junitXml } from '../report/junit.js'
import { differencesTable, formatMs, progressLine } from '../report/table.js'
import type { ModelReport, ReportCase } from '../report/types.js'

export const DEFAULT_JUNIT_FILE = 'servekit-junit.xml'

interface TestOptions {
  config: string
  update?: boolean
  model?: string[]
  reporter?: 'junit'
  output?: string
}

export function registerTest(program: Command): void {
  program
    .command('test')
    .description("Check every model against the expected outputs stored in the repository (for CI); --update rewrites them.")
    .option('-c, --config <file>', 'service config', DEFAULT_CONFIG_FILE)
    .option('-u, --update', "(re)write the stored expectations from the current versions' outputs")
    .option('-m, --model <id...>', 'only these models (default: every model in the config)')
    .addOption(new Option('--reporter <name>', 'also write a machine-readable report').choices(['junit']))
    .option('-o, --output <file>', `file for --reporter junit (default: ${DEFAULT_JUNIT_FILE})`)
    .action(async (opts: TestOptions, cmd: Command) => {
      if (opts.output !== undefined && opts.reporter === undefined) cmd.error("error: option '--output <file>' needs '--reporter junit'")
      const loaded = await loadConfig(opts.config)
      const ids = selectModels(loaded, opts.model)
      const testdataDir = resolve(loaded.dir, loaded.config.testdata)
      // Logs go to stderr, so stdout is the report. Level error: the loader's "failed self-test, serving it
      // anyway (selfTest: warn)" warning would be misleading here (selfTest is forced to warn below), and
      // the report says it better.
      const logger = createLogger({ level: 'error', pretty: false, fd: 2 })
      const store = createStore(loaded)
      const started = performance.now()

      const reports: ModelReport[] = []
      for (const id of ids) {
        const report = await testModel({ id, config: loaded.config.models[id] as ModelConfig, loaded, store, logger, testdataDir, update: opts.update === true })
        reports.push(report)
        process.stdout.write(progressLine(report) + '\n')
      }

      const table = differencesTable(reports)
      if (table) process.stdout.write('\n' + table)
      process.stdout.write('\n' + summaryLine(reports, opts.update === true, performance.now() - started) + '\n')

      if (opts.reporter === 'junit') {
        const file = resolve(opts.output ?? DEFAULT_JUNIT_FILE)
        await mkdir(dirname(file), { recursive: true })
        await writeFile(file, junitXml(reports, { name: opts.update ? 'servekit test --update' : 'servekit test' }))
        process.stdout.write(`JUnit report: ${displayPath(file)}\n`)
      }
      process.exitCode = reports.every((r) => r.passed) ? 0 : 1
    })
}

function selectModels(loaded: LoadedConfig, wanted: string[] | undefined): string[] {
  const known = Object.keys(loaded.config.models)
  if (wanted === undefined) return known
  const unknown = wanted.filter((id) => !Object.hasOwn(loaded.config.models, id))
  if (unknown.length > 0) {
    throw new ServekitError('model_not_found', `model ${unknown.map((id) => `"${id}"`).join(', ')} not found in ${loaded.file} (known: ${known.join(', ')})`)
  }
  return [...new Set(wanted)]
}

interface ModelRun {
  id: string
  config: ModelConfig
  loaded: LoadedConfig
  store: ModelStore
  logger: Logger
  testdataDir: string
  update: boolean
}

/**
 * Loads one model on its own (one at a time keeps memory to one model, and lets the progress line
 * come as each model finishes), then checks or records it, then unloads it.
 */
async function testModel(run: ModelRun): Promise<ModelReport> {
  const started = performance.now()
  // Forced to warn so the version loads even if its self-test fails: the report shows the outcome,
  // and the model's own policy decides whether that fails the run.
  const registry = new ModelRegistry({
    models: { [run.id]: { ...run.config, selfTest: 'warn' } },
    store: run.store,
    baseDir: run.loaded.dir,
    logger: run.logger,
  })
  await registry.loadAll()
  const entry = registry.get(run.id)
  const version = entry?.serving
  try {
    // Any version that failed fails the run, even when the registry fell back to an older one: in
    // CI, the version the config selects must load.
    const failures = [...(entry?.failures ?? new Map<string, string>())]
    if (version === undefined || failures.length > 0) {
      const errors = failures.length > 0 ? failures.map(([, why]) => why) : [entry?.error ?? 'unknown error']
      const cases = failures.length > 0 ? failures.map(([v, why]) => problem(`load @${v}`, why, 'error')) : [problem('load', errors[0]!, 'error')]
      const partial = { modelId: run.id, version: undefined, passed: false, summary: `failed to load: ${errors.join('; ')}`, notes: [], cases }
      return { ...partial, durationMs: performance.now() - started }
    }
    let partial: PartialReport
    try {
      partial = run.update ? await updateModel(run, version) : await checkModel(run, version)
    } catch (err) {
      // E.g. a testData function that throws, or a testdata directory that cannot be written.
      const error = err instanceof Error ? err.message : String(err)
      partial = { modelId: run.id, version: version.version, passed: false, summary: error, notes: [], cases: [problem(run.update ? 'update' : 'check', error, 'error')] }
    }
    return { ...partial, durationMs: performance.now() - started }
  } finally {
    await registry.unloadAll()
  }
}

type PartialReport = Omit<ModelReport, 'durationMs'>

/** The self-test's part of a report: failing rows when the policy blocks, a note when it warns. */
function selfTestOutcome(config: ModelConfig, version: LoadedVersion): { blocked: boolean; rows: ReportCase[]; notes: string[] } {
  const test = version.selfTest
  if (test.status !== 'failed') return { blocked: false, rows: [], notes: [] }
  const what = `self-test failed: ${test.failed} of ${test.cases} cases`
  if (config.selfTest === 'warn') return { blocked: false, rows: [], notes: [`${what}, selfTest: warn`] }
  const rows = test.failures.map(
    (f): ReportCase => ({ name: `self-test: ${f.name}`, passed: false, expected: f.expected, got: f.got, error: f.reason, severity: f.got === undefined ? 'error' : 'failure', scope: 'model', durationMs: 0 }),
  )
  return { blocked: true, rows, notes: [`${what}, selfTest: block`] }
}

async function checkModel(run: ModelRun, version: LoadedVersion): Promise<PartialReport> {
  const tolerance = resolveTolerance(run.config, version.modelClass)
  const stored = await readExpectations(run.testdataDir, run.id)
  const check = await checkExpectations(version, stored, tolerance)
  const selfTest = selfTestOutcome(run.config, version)
  const notes = [...selfTest.notes]
  if (check.storedVersion !== undefined && check.storedVersion !== version.version) notes.push(`expectations stored from @${check.storedVersion}`)
  const cases: ReportCase[] = check.cases.map((c) => ({
    name: c.name,
    passed: c.passed,
    expected: c.expected,
    got: c.got,
    error: c.error,
    severity: c.kind === 'threw' ? 'error' : 'failure',
    scope: 'case',
    durationMs: c.durationMs,
  }))
  if (check.message !== undefined) cases.push(problem(check.status === 'no_cases' ? 'testData' : 'stored expectations', check.message, 'failure'))
  cases.push(...selfTest.rows)
  return {
    modelId: run.id,
    version: version.version,
    passed: check.status === 'passed' && !selfTest.blocked,
    summary: checkSummary(check),
    notes,
    cases,
  }
}

function checkSummary(check: ExpectationsCheck): string {
  if (check.message !== undefined) return check.message
  const n = check.cases.length
  const failed = check.cases.filter((c) => !c.passed).length
  const counted = `${n} ${n === 1 ? 'case' : 'cases'}${failed > 0 ? `, ${failed} failed` : ''}`
  return `${counted}  max error ${formatError(check.maxError)}`
}

async function updateModel(run: ModelRun, version: LoadedVersion): Promise<PartialReport> {
  const base = { modelId: run.id, version: version.version }
  const selfTest = selfTestOutcome(run.config, version)
  if (selfTest.blocked) {
    const why = `not written: ${version.modelId}@${version.version} fails its self-test and its selfTest policy is block (fix the model or its testData)`
    return { ...base, passed: false, summary: why, notes: [], cases: selfTest.rows }
  }
  const tolerance = resolveTolerance(run.config, version.modelClass)
  const recorded = await recordExpectations(version, tolerance)
  if (recorded.status === 'refused') {
    const rows = recorded.problems.map((p): ReportCase => ({ name: p.name, passed: false, expected: p.expected, got: p.got, error: p.error, severity: p.got === undefined ? 'error' : 'failure', scope: 'case', durationMs: 0 }))
    if (rows.length === 0) rows.push(problem('testData', recorded.message, 'failure'))
    return { ...base, passed: false, summary: `not written: ${recorded.message}`, notes: selfTest.notes, cases: rows }
  }
  const { expectations } = recorded
  const previous = await readExpectations(run.testdataDir, run.id)
  const path = expectationsPath(run.testdataDir, run.id)
  const n = expectations.cases.length
  const counted = `${n} ${n === 1 ? 'case' : 'cases'}`
  const cases = expectations.cases.map((c): ReportCase => ({ name: c.name, passed: true, expected: c.expected, got: c.expected, error: undefined, severity: 'failure', scope: 'case', durationMs: 0 }))
  if (previous.status === 'ok' && sameExpectations(previous.expectations, expectations)) {
    return { ...base, passed: true, summary: `unchanged ${displayPath(path)}  ${counted}`, notes: selfTest.notes, cases }
  }
  await writeExpectations(run.testdataDir, expectations)
  return { ...base, passed: true, summary: `wrote ${displayPath(path)}  ${counted}`, notes: selfTest.notes, cases }
}

const problem = (name: string, error: string, severity: 'failure' | 'error'): ReportCase => ({ name, passed: false, expected: undefined, got: undefined, error, severity, scope: 'model', durationMs: 0 })

function summaryLine(reports: readonly ModelReport[], update: boolean, ms: number): string {
  const failed = reports.filter((r) => !r.passed).length
  const models = `${reports.length} ${reports.length === 1 ? 'model' : 'models'}`
  if (update) {
    const verdict = failed === 0 ? `updated ${models}` : `FAILED: ${failed} of ${models} not written`
    return `${verdict} in ${formatMs(ms)}`
  }
  const cases = reports.flatMap((r) => r.cases.filter((c) => c.scope === 'case'))
  const failedCases = cases.filter((c) => !c.passed).length
  const counted = `${cases.length} ${cases.length === 1 ? 'case' : 'cases'}`
  if (failed === 0) return `passed: ${models}, ${counted} in ${formatMs(ms)}`
  return `FAILED: ${failed} of ${models} (${failedCases} of ${counted} failed) in ${formatMs(ms)}`
}

/** Relative to the working directory when that is shorter, for messages. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel && !rel.startsWith('..') ? rel : file
}
