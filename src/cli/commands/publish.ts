import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { isSafeName } from '../../config/schema.js'
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../config/load-config.js'
import { ServekitError } from '../../errors.js'
import { createStore } from '../../store/create-store.js'
import { nextVersion } from '../../store/model-store.js'

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .description("Copy a directory into the config's model store as a new, immutable version (served services pick it up on their next poll).")
    .argument('<dir>', 'directory with the artifact files (and optionally model.json)')
    .requiredOption('-m, --model <name>', 'model id to publish under')
    .option('--version <version>', 'version name (default: the next integer)')
    .option('-c, --config <file>', 'service config (for its store)', DEFAULT_CONFIG_FILE)
    .action(async (dir: string, opts: { model: string; version?: string; config: string }) => {
      const loaded = await loadConfig(opts.config)
      if (!isSafeName(opts.model)) throw new ServekitError('invalid_request', `--model "${opts.model}" is not a valid model name`)
      if (opts.version !== undefined && !isSafeName(opts.version)) throw new ServekitError('invalid_request', `--version "${opts.version}" is not a valid version name`)
      const source = resolve(dir)
      if (!(await stat(source).catch(() => undefined))?.isDirectory()) throw new ServekitError('invalid_request', `${source} is not a directory`)
      const store = createStore(loaded)
      const version = opts.version ?? nextVersion(await store.versions(opts.model))
      // Stage a copy with a manifest: every published version has model.json with its creation time.
      const staging = await mkdtemp(join(tmpdir(), 'servekit-publish-'))
      try {
        await cp(source, staging, { recursive: true })
        const manifestFile = join(staging, 'model.json')
        const manifest: Record<string, unknown> = await readFile(manifestFile, 'utf8').then(
          (text) => JSON.parse(text) as Record<string, unknown>,
          () => ({}),
        )
        manifest['created_at'] ??= new Date().toISOString()
        await writeFile(manifestFile, JSON.stringify(manifest, null, 2) + '\n')
        await store.publish({ name: opts.model, version }, staging)
      } finally {
        await rm(staging, { recursive: true, force: true })
      }
      process.stdout.write(`published ${opts.model}@${version} to ${store.description}\n`)
    })
}
