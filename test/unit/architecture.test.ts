import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/start-service.js'

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name))
}

const importsOf = (text: string): string[] => [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2]) as string)

// The layer arrows of docs/architecture.md: model/, store/ and frameworks/ know nothing of HTTP or the CLI,
// and observe/ imports none of the other layers.
// Only relative imports name layers ("../server/app.js"); package names such as @aws-sdk/client-s3 do not.
const rules: Array<{ layer: string; forbidden: RegExp; why: string }> = [
  { layer: 'src/model', forbidden: /^(fastify|node:http|node:cluster)$|\.\.\/(server|cli|cluster)\//, why: 'model/ is protocol-neutral' },
  { layer: 'src/store', forbidden: /^(fastify|node:http)$|\.\.\/(server|cli|cluster|traffic)\/|\.\.\/model\/(registry|predictor)/, why: 'store/ only knows artifacts' },
  { layer: 'src/frameworks', forbidden: /^(fastify|node:http)$|\.\.\/(server|cli|cluster)\//, why: 'frameworks are model classes like user code' },
  { layer: 'src/observe', forbidden: /\.\.\/(server|cli|cluster|model|store|traffic|frameworks)\//, why: 'observe/ is imported by every layer and imports none' },
  { layer: 'src/server', forbidden: /\.\.\/(cli|cluster)\//, why: 'server/ never listens or forks' },
]

describe('layer boundaries', () => {
  for (const rule of rules) {
    it(`${rule.layer} imports nothing it must not (${rule.why})`, async () => {
      const offenders: string[] = []
      for (const file of await filesUnder(join(ROOT, rule.layer))) {
        for (const spec of importsOf(await readFile(file, 'utf8'))) {
          if (rule.forbidden.test(spec)) offenders.push(`${relative(ROOT, file)} imports ${spec}`)
        }
      }
      expect(offenders).toEqual([])
    })
  }

  it('heavy framework libraries are imported lazily, never at the top of a module', async () => {
    const offenders: string[] = []
    for (const file of await filesUnder(join(ROOT, 'src'))) {
      const text = await readFile(file, 'utf8')
      for (const m of text.matchAll(/^import\s[^'"]*from\s+['"](onnxruntime-node|@aws-sdk\/[^'"]+)['"]/gm)) {
        if (!/^import\s+type\s/.test(m[0])) offenders.push(`${relative(ROOT, file)}: ${m[0]}`)
      }
    }
    expect(offenders).toEqual([])
  })
})
