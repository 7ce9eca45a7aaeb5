import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { PlannedFile } from './plan.js'

/** Writes the planned files under `dir`; `wx` so an existing file is never overwritten. */
export async function writeFiles(dir: string, files: readonly PlannedFile[]): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const file of files) {
    const target = join(dir, ...file.path.split('/'))
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, file.content, { flag: 'wx' })
  }
}
