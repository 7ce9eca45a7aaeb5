import type { Command } from 'commander'
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../config/load-config.js'
import { errorCodes, ServekitError, type ErrorCode } from '../../errors.js'

interface AdminOptions {
  url?: string
  token?: string
  config: string
  json?: boolean
}

/** `servekit models ...`: talks to a running service's management API. */
export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .description("Manage a running service's models through its admin API (list, deploy, rollback, load, unload).")
  const common = (c: Command) =>
    c
      .option('--url <url>', 'admin API base URL (default: http://127.0.0.1:<admin.port or server.port> from the config)')
      .option('--token <token>', 'admin token (default: $SERVEKIT_ADMIN_TOKEN)')
      .option('-c, --config <file>', 'service config, for the default URL', DEFAULT_CONFIG_FILE)
      .option('--json', 'print the raw JSON response')

  common(models.command('list').description('List models, their versions, aliases and status')).action(async (opts: AdminOptions) => {
    print(await admin(opts, 'GET', '/admin/models'), opts)
  })
  common(models.command('deploy').description('Make a version the default (loads and self-tests it first)').argument('<name@version>')).action(async (ref: string, opts: AdminOptions) => {
    const { name, version } = parseRef(ref)
    print(await admin(opts, 'PUT', `/admin/models/${enc(name)}/default`, { version }), opts)
  })
  common(models.command('rollback').description('Make the previous version the default (or --to a version)').argument('<name>').option('--to <version>', 'version to roll back to')).action(
    async (name: string, opts: AdminOptions & { to?: string }) => {
      print(await admin(opts, 'POST', `/admin/models/${enc(name)}/rollback`, opts.to === undefined ? {} : { to: opts.to }), opts)
    },
  )
  common(models.command('load').description('Load a version beside the default (for experiments and explicit requests)').argument('<name@version>')).action(async (ref: string, opts: AdminOptions) => {
    const { name, version } = parseRef(ref)
    print(await admin(opts, 'POST', `/admin/models/${enc(name)}/versions/${enc(version)}/load`), opts)
  })
  common(models.command('unload').description('Unload a version that is not the default').argument('<name@version>')).action(async (ref: string, opts: AdminOptions) => {
    const { name, version } = parseRef(ref)
    print(await admin(opts, 'POST', `/admin/models/${enc(name)}/versions/${enc(version)}/unload`), opts)
  })
}

const enc = encodeURIComponent

function parseRef(ref: string): { name: string; version: string } {
  const at = ref.indexOf('@')
  if (at <= 0 || at === ref.length - 1) throw new ServekitError('invalid_request', `expected <name>@<version>, got "${ref}"`)
  return { name: ref.slice(0, at), version: ref.slice(at + 1) }
}

async function admin(opts: AdminOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = opts.url ?? (await defaultUrl(opts.config))
  const token = opts.token ?? process.env['SERVEKIT_ADMIN_TOKEN']
  if (!token) throw new ServekitError('unauthorized', 'no admin token: pass --token or set SERVEKIT_ADMIN_TOKEN')
  let res: Response
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (err) {
    throw new ServekitError('internal_error', `cannot reach the admin API at ${base}: ${(err as Error).message}`, { cause: err })
  }
  const payload = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined
  if (!res.ok) {
    const code = payload?.error?.code
    throw new ServekitError(code !== undefined && isCode(code) ? code : 'internal_error', payload?.error?.message ?? `HTTP ${res.status}`)
  }
  return payload
}

const isCode = (c: string): c is ErrorCode => Object.hasOwn(errorCodes, c)

async function defaultUrl(config: string): Promise<string> {
  const { server, admin } = (await loadConfig(config)).config
  return `http://127.0.0.1:${admin.port ?? server.port}`
}

interface ModelView {
  model_id: string
  status: string
  default_version: string | null
  aliases: Record<string, string>
  error: string | null
  versions: Array<{ version: string; status: string; error?: string }>
}

function print(payload: unknown, opts: AdminOptions): void {
  if (opts.json) {
    process.stdout.write(JSON.stringify(payload, null, 2) + '\n')
    return
  }
  const p = payload as { models?: ModelView[] } & ModelView
  for (const m of p.models ?? [p]) {
    const aliases = Object.entries(m.aliases ?? {}).map(([a, v]) => `${a}=${v}`).join(' ')
    process.stdout.write(`${m.model_id}  ${m.status}  default ${m.default_version ?? '-'}${aliases ? `  aliases ${aliases}` : ''}\n`)
    for (const v of m.versions) process.stdout.write(`  ${v.version.padEnd(8)} ${v.status}${v.error ? `  ${v.error}` : ''}\n`)
    if (m.error) process.stdout.write(`  error: ${m.error}\n`)
  }
}
