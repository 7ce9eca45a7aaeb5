import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { writeAllSync } from '../../../src/observe/fd-writer.js'

describe('writeAllSync', () => {
  it('writes everything to a full non-blocking pipe, waiting while the reader is away, and throws once the reader is gone', async () => {
    // A child that starts reading its stdin only after 300 ms and counts the bytes; libuv makes the
    // pipe to it non-blocking, as the primary's stdout pipe is for workers.
    const child = spawn(process.execPath, ['-e', "let n = 0; setTimeout(() => process.stdin.on('data', (d) => (n += d.length)).on('end', () => console.log(n)), 300)"], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd
    expect(fd).toBeGreaterThan(2)
    const chunk = Buffer.alloc(4096, 'x')
    const started = Date.now()
    // 1 MB: far more than a pipe holds (64 KB), so most writes first meet EAGAIN.
    for (let i = 0; i < 256; i++) writeAllSync(fd, chunk)
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    child.stdin.end()
    await once(child, 'exit')
    expect(Number(out.trim())).toBe(256 * 4096)

    // The reader gone: EPIPE is thrown, not swallowed or retried forever.
    // (a child that closes its end of the pipe at once, and stays until killed)
    const gone = spawn(process.execPath, ['-e', "require('fs').closeSync(0); console.log('closed'); setTimeout(() => {}, 10_000)"], { stdio: ['pipe', 'pipe', 'inherit'] })
    gone.stdin.on('error', () => {})
    await once(gone.stdout, 'data')
    const goneFd = (gone.stdin as unknown as { _handle: { fd: number } })._handle.fd
    try {
      expect(() => writeAllSync(goneFd, 'x\n')).toThrow(/EPIPE/)
    } finally {
      gone.kill()
    }
  })
})
