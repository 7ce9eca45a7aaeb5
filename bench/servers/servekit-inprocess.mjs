// A servekit config served in this one process, through the embedding API (`createServer`) rather
// than `servekit serve`'s primary and workers: for bench/instructions.mjs, which counts the
// instructions of a single process under valgrind. Default config: the bench service
// (bench/service/servekit.config.ts; SERVEKIT_BENCH_LEAN=1 turns its observability off).
//
//   node bench/servers/servekit-inprocess.mjs --port 0 [--config FILE] [--dist CHECKOUT]   (after npm run build)
//
// `--dist` serves another checkout's build (its dist/), to compare two builds. Prints one JSON line
// {"msg":"servekit listening","port":…} once it listens; stops on SIGTERM.
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    config: { type: 'string', default: join(ROOT, 'bench/service/servekit.config.ts') },
    dist: { type: 'string', default: ROOT },
  },
})
const { createServer } = await import(pathToFileURL(join(values.dist, 'dist/index.js')).href)
const server = await createServer({ config: values.config })
const url = new URL(await server.listen({ port: Number(values.port), host: values.host }))
process.stdout.write(JSON.stringify({ msg: 'servekit listening', port: Number(url.port), workers: 0, pid: process.pid }) + '\n')
process.on('SIGTERM', () => server.close().then(() => process.exit(0)))
