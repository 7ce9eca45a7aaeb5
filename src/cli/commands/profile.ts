import { createReadStream } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import { ServekitError } from '../../errors.js'
import { profileRows } from '../../observe/monitoring/profile.js'
import { parseIntOption } from '../main.js'

interface ProfileOptions {
  output?: string
  manifest?: string
  featuresOnly?: boolean
  bins: number
  outputField?: string
}

export function registerProfile(program: Command): void {
  program
    .command('profile')
    .description("Compute training statistics (the reference distribution for drift monitoring) from JSON lines, for a version's model.json.")
    .argument('<rows>', 'JSON lines: {"features": {...}, "output": ...} per line, or bare feature records')
    .option('-o, --output <file>', 'write the statistics to this file (default: stdout unless --manifest)')
    .option('-m, --manifest <model.json>', 'write them into this manifest as "training_stats" (created if absent; other fields kept)')
    .option('--features-only', 'leave the output out')
    .option('--bins <n>', 'bins per feature, at the quantiles of the data', parseIntOption(2, 100), 10)
    .option('--output-field <name>', 'numeric field of an object output to profile (default: its first numeric field)')
    .action(async (rowsFile: string, opts: ProfileOptions) => {
      const file = resolve(rowsFile)
      if (!(await stat(file).catch(() => undefined))?.isFile()) throw new ServekitError('invalid_request', `${file} is not a file`)
      let profile
      try {
        profile = await profileRows(() => readJsonLines(file), { bins: opts.bins, featuresOnly: opts.featuresOnly === true, outputField: opts.outputField })
      } catch (err) {
        if (err instanceof ServekitError) throw err
        throw new ServekitError('invalid_request', `${file}: ${(err as Error).message}`, { cause: err })
      }
      const { stats, droppedFeatures } = profile
      const text = JSON.stringify(stats, null, 2) + '\n'
      if (opts.output !== undefined) await writeFile(resolve(opts.output), text)
      if (opts.manifest !== undefined) await writeIntoManifest(resolve(opts.manifest), stats)
      const toStdout = opts.output === undefined && opts.manifest === undefined
      if (toStdout) process.stdout.write(text)
      const written = [opts.output, opts.manifest].filter((f) => f !== undefined).join(' and ')
      const output = stats.output ? `, output${stats.output['field'] ? ` (${String(stats.output['field'])})` : ''}` : ''
      const summary = `profiled ${stats.rows} rows: ${Object.keys(stats.features).length} numeric features${output}${written ? `; wrote ${written}` : ''}\n`
      // stdout carries the statistics when no file was named; the summary goes beside it on stderr.
      ;(toStdout ? process.stderr : process.stdout).write(summary)
      if (droppedFeatures.length > 0) process.stderr.write(`servekit: more than ${Object.keys(stats.features).length} numeric features; not profiled: ${droppedFeatures.slice(0, 10).join(', ')}${droppedFeatures.length > 10 ? ', …' : ''}\n`)
    })
}

/** Parsed rows of a JSON-lines file, streamed (blank lines skipped; a bad line names its number). */
async function* readJsonLines(file: string): AsyncIterable<unknown> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })
  let n = 0
  for await (const line of lines) {
    n++
    if (line.trim() === '') continue
    let row: unknown
    try {
      row = JSON.parse(line)
    } catch (err) {
      throw new ServekitError('invalid_request', `${file}:${n}: not valid JSON: ${(err as Error).message}`)
    }
    if (typeof row !== 'object' || row === null) throw new ServekitError('invalid_request', `${file}:${n}: expected a JSON object or array, got ${JSON.stringify(row).slice(0, 40)}`)
    yield row
  }
}

/** Sets `training_stats` in a manifest by parsing and rewriting it, keeping every other field. */
async function writeIntoManifest(file: string, stats: unknown): Promise<void> {
  const manifest: Record<string, unknown> = await readFile(file, 'utf8').then(
    (text) => {
      try {
        return JSON.parse(text) as Record<string, unknown>
      } catch (err) {
        throw new ServekitError('invalid_request', `${file} is not valid JSON: ${(err as Error).message}`)
      }
    },
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return {}
      throw err
    },
  )
  manifest['training_stats'] = stats
  await writeFile(file, JSON.stringify(manifest, null, 2) + '\n')
}
