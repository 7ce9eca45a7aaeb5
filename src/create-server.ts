import type { AddressInfo } from 'node:net'
import { dirname, resolve } from 'node:path'
import { loadConfig, validateConfig, type LoadedConfig } from './config/load-config.js'
import type { ServiceConfigInput } from './config/schema.js'
import { createLogger, type Logger } from './observe/logger.js'
import { startTracing } from './observe/tracing.js'
import { createService, type Service } from './service.js'

export interface CreateServerOptions {
  /** A config file path, or a config object (relative paths in it resolve against `baseDir`). */
  config: string | ServiceConfigInput
  /** Directory a config object's relative paths resolve against; default: the current directory. */
  baseDir?: string
  /** Default: JSON logs on stdout at the config's level. */
  logger?: Logger
}

/** A serving process built in the current process: no cluster, no signal handling. */
export interface Server extends Service {
  /** Listens and returns the URL, e.g. `http://127.0.0.1:53122`. */
  listen(options?: { port?: number; host?: string }): Promise<string>
}

/**
 * Builds a service from a config in this process and loads its models: for tests and for embedding
 * servekit in your own Node.js program. `servekit serve` is the production entry point (one worker
 * per core, restarts, graceful shutdown).
 *
 * @example
 * const server = await createServer({ config: './servekit.config.ts' })
 * const url = await server.listen({ port: 0, host: '127.0.0.1' })
 * const res = await fetch(`${url}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ model_id: 'churn', features: { tenure_months: 3 } }) })
 * await server.close()
 */
export async function createServer(options: CreateServerOptions): Promise<Server> {
  const loaded: LoadedConfig =
    typeof options.config === 'string'
      ? await loadConfig(options.config)
      : (() => {
          const source = resolve(options.baseDir ?? process.cwd(), 'servekit.config.ts')
          return { file: source, dir: dirname(source), ...validateConfig(options.config, source) }
        })()
  const { logging, tracing: tracingConfig, server: serverConfig } = loaded.config
  const logger = options.logger ?? createLogger({ level: logging.level, pretty: logging.pretty })
  const tracing = tracingConfig.enabled ? await startTracing(tracingConfig.serviceName) : undefined
  const service = createService(loaded, { logger, tracing })
  await service.load()
  return {
    ...service,
    async listen(opts = {}) {
      await service.app.listen({ port: opts.port ?? serverConfig.port, host: opts.host ?? serverConfig.host })
      const addr = service.app.server.address() as AddressInfo
      service.startPolling()
      return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
    },
  }
}
