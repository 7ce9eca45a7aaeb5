import type { Command } from 'commander'
import { ServekitError } from '../../errors.js'
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../config/load-config.js'
import { createPredictor } from '../../model/predictor.js'
import { ModelRegistry } from '../../model/registry.js'
import { createLogger } from '../../observe/logger.js'
import { createStore } from '../../store/create-store.js'

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('Load one model in this process and print one prediction as JSON (no server).')
    .argument('<model_id>', 'model id from the config')
    .argument('<features>', "features as JSON, e.g. '{\"x\": 1}'")
    .option('-c, --config <file>', 'service config', DEFAULT_CONFIG_FILE)
    .option('--parameters <json>', 'request parameters as JSON, e.g. \'{"output_margin": true}\'')
    .action(async (modelId: string, featuresJson: string, opts: { config: string; parameters?: string }) => {
      const loaded = await loadConfig(opts.config)
      const model = loaded.config.models[modelId]
      if (model === undefined) {
        throw new ServekitError('model_not_found', `model "${modelId}" not found in ${loaded.file} (known: ${Object.keys(loaded.config.models).join(', ')})`)
      }
      const features = parseJson(featuresJson, 'features')
      const parameters = opts.parameters === undefined ? undefined : (parseJson(opts.parameters, '--parameters') as Record<string, unknown>)
      // Logs go to stderr so stdout is exactly the prediction.
      const logger = createLogger({ level: 'warn', pretty: false, fd: 2 })
      const registry = new ModelRegistry({ models: { [modelId]: model }, store: createStore(loaded), baseDir: loaded.dir, logger })
      await registry.loadAll()
      try {
        const result = await createPredictor(registry).predict({ modelId, features, requestId: 'cli', parameters }, new AbortController().signal)
        process.stdout.write(JSON.stringify({ output: result.output, model_id: result.modelId, model_version: result.modelVersion }) + '\n')
      } finally {
        await registry.unloadAll()
      }
    })
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ServekitError('invalid_json', `${what} is not valid JSON: ${(err as Error).message}`)
  }
}
