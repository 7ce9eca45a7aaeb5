import cluster from 'node:cluster'
import type { Command } from 'commander'
import { DEFAULT_CONFIG_FILE, loadConfig, type LoadedConfig } from '../../config/load-config.js'
import { resolveWorkers } from '../../config/schema.js'
import { runPrimary } from '../../cluster/primary.js'
import { runWorker } from '../../cluster/worker.js'
import { createLogger } from '../../observe/logger.js'
import { parseIntOption } from '../main.js'

interface ServeOptions {
  config: string
  port?: number
  host?: string
  workers?: number
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve the models of a service over HTTP: a primary process and one worker per core (node:cluster).')
    .option('-c, --config <file>', 'service config', DEFAULT_CONFIG_FILE)
    .option('-p, --port <port>', 'port to listen on (0 picks a free one); overrides server.port', parseIntOption(0, 65535))
    .option('--host <host>', 'address to bind; overrides server.host')
    .option('-w, --workers <n>', 'worker processes (0 = one per core); overrides server.workers', parseIntOption(0, 256))
    .action(async (opts: ServeOptions) => {
      // Workers run this same command line; each reads the config itself.
      const loaded = withOverrides(await loadConfig(opts.config), opts)
      const { logging, server } = loaded.config
      if (cluster.isPrimary) {
        const logger = createLogger({ level: logging.level, pretty: logging.pretty, base: { role: 'primary' } })
        runPrimary({ workers: resolveWorkers(server.workers), shutdownTimeoutMs: server.shutdownTimeoutMs, watchdogMs: server.watchdogMs, startupTimeoutMs: server.startupTimeoutMs, logger })
      } else {
        const logger = createLogger({ level: logging.level, pretty: logging.pretty, base: { role: 'worker', worker: cluster.worker?.id } })
        await runWorker(loaded, logger)
      }
    })
}

function withOverrides(loaded: LoadedConfig, opts: ServeOptions): LoadedConfig {
  const server = { ...loaded.config.server }
  if (opts.port !== undefined) server.port = opts.port
  if (opts.host !== undefined) server.host = opts.host
  if (opts.workers !== undefined) server.workers = opts.workers
  return { ...loaded, config: { ...loaded.config, server } }
}
