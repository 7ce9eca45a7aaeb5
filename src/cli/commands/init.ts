import type { Command } from 'commander'
import { createRequire } from 'node:module'
import { InitError, type InitFlags } from '../init/options.js'
import { terminalPrompt, type PromptFn } from '../init/prompt.js'
import { formatSummary, runInit } from '../init/run-init.js'
import { formatTemplateList } from '../init/templates.js'

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string }

interface InitCommandOptions extends Omit<InitFlags, 'dir'> {
  listTemplates?: boolean
}

/** What the command uses from its surroundings; tests replace them. */
export interface InitIo {
  readonly prompt?: PromptFn
  readonly interactive: boolean
  readonly cwd: string
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly now?: Date
}

const processIo = (): InitIo => ({
  prompt: terminalPrompt(),
  interactive: process.stdin.isTTY === true,
  cwd: process.cwd(),
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
})

export function registerInit(program: Command, io: () => InitIo = processIo): void {
  program
    .command('init')
    .description("Create a service repository: model, config, tests, CI, Dockerfile and Kubernetes manifests (prompts for what flags don't give, on a terminal).")
    .argument('[dir]', 'directory to create, new or empty (default: ./<name>)')
    .option('--name <name>', 'service name: npm package, image and Kubernetes names (lowercase letters, digits, "-")')
    .option('--team <team>', 'owning team: Kubernetes label and CODEOWNERS (lowercase letters, digits, "-")')
    .option('--model <template>', 'model template: custom, xgboost or onnx (see --list-templates)')
    .option('--model-id <id>', "the sample model's id (default: the template's)")
    .option('--org <org>', 'GitHub organisation for CODEOWNERS and the image name (default: your-org)')
    .option('--servekit <spec>', 'servekit dependency: a version range, or a path / file: spec of a local checkout or npm pack tarball (default: ^' + version + ')')
    .option('-y, --yes', 'take the default for every missing flag instead of asking')
    .option('--dry-run', 'print the files that would be written; write nothing')
    .option('--list-templates', 'list the model templates and exit')
    .action(async (dir: string | undefined, opts: InitCommandOptions) => {
      const env = io()
      if (opts.listTemplates === true) {
        env.stdout(formatTemplateList())
        return
      }
      const { listTemplates: _, ...flags } = opts
      try {
        const result = await runInit({ ...flags, dir }, { prompt: env.prompt, interactive: env.interactive, cwd: env.cwd, version, now: env.now, say: (l) => env.stderr(l + '\n') })
        env.stdout(formatSummary(result, env.cwd))
      } catch (err) {
        if (!(err instanceof InitError)) throw err
        process.exitCode = 1
        env.stderr(`servekit init: ${err.message}\n`)
      }
    })
}
