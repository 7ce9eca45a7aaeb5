import { Command, InvalidArgumentError } from 'commander'
import { createRequire } from 'node:module'
import { isServekitError } from '../errors.js'
import { registerModels } from './commands/models.js'
import { registerInit } from './commands/init.js'
import { registerPredict } from './commands/predict.js'
import { registerPublish } from './commands/publish.js'
import { registerProfile } from './commands/profile.js'
import { registerServe } from './commands/serve.js'
import { registerTest } from './commands/test.js'

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string }

/** Builds the `servekit` command line. */
export function buildCli(): Command {
  const program = new Command('servekit')
    .description('Model serving as a library: serve, test and manage the models of one service.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    // Root options (--version) only before the command, so `publish --version 3` reaches publish.
    .enablePositionalOptions()
  registerServe(program)
  registerPredict(program)
  registerInit(program)
  registerPublish(program)
  registerProfile(program)
  registerModels(program)
  registerTest(program)
  return program
}

/** Entry point of the `servekit` bin: runs a command, turns a ServekitError into a one-line message and exit 1. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv)
  } catch (err) {
    process.exitCode = 1
    if (isServekitError(err)) process.stderr.write(`servekit: ${err.code}: ${err.message}\n`)
    else process.stderr.write(`servekit: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  }
}

/** Commander parser for integer options, with the option named in the error. */
export function parseIntOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    return n
  }
}
