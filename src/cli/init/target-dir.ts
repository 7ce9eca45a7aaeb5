import { readdir, stat } from 'node:fs/promises'
import { InitError } from './options.js'

/**
 * init only writes into a directory that does not exist yet or is empty, so it never mixes its files
 * with someone's work or overwrites one.
 */
export async function checkTargetDir(dir: string): Promise<void> {
  let isDir: boolean
  try {
    isDir = (await stat(dir)).isDirectory()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new InitError(`cannot use ${dir}: ${(err as Error).message}`)
  }
  if (!isDir) throw new InitError(`${dir} exists and is not a directory (nothing written)`)
  const entries = await readdir(dir)
  if (entries.length > 0) {
    const shown = entries.sort().slice(0, 5).join(', ') + (entries.length > 5 ? ', …' : '')
    throw new InitError(`${dir} is not empty (${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}: ${shown}): init writes only into a new or empty directory (nothing written)`)
  }
}
