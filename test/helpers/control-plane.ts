import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Writes an artifact directory for the control-plane fixture model (test/fixtures/control-plane/scorer.ts). */
export async function writeScorerArtifact(dir: string, opts: { offset: number; required?: string[]; expected?: number; corrupt?: boolean; features?: Record<string, number> }): Promise<string> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'params.json'), opts.corrupt ? '{"offset": ' : JSON.stringify({ offset: opts.offset, required: opts.required }))
  await writeFile(join(dir, 'testdata.json'), JSON.stringify([{ name: 'x=1', features: opts.features ?? { x: 1 }, expected: opts.expected ?? opts.offset + 1 }]))
  return dir
}
