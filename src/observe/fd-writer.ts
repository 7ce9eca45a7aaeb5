import { writeSync } from 'node:fs'

/**
 * Writes to a pipe of at most PIPE_BUF bytes (4096 on Linux) are never split or interleaved with
 * other writers' (POSIX). Every process of a service shares the primary's stdout: whoever writes
 * there keeps each write within this size, and to whole lines, so lines of different processes
 * never tear into each other.
 */
export const MAX_ATOMIC_WRITE = 4096

/** Shared memory for Atomics.wait: a way to pause this thread for a millisecond without spinning. */
const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * Writes all of `data` to `fd` synchronously. The primary's stdout pipe is non-blocking (libuv
 * sets it so, for every process sharing it): when the pipe is full, the write fails with EAGAIN,
 * and this waits a millisecond and tries again, so a worker is held about as long as its log reader
 * needs to make room. (sonic-boom, pino's destination, sleeps 100 ms on EAGAIN: a worker stalled a
 * tenth of a second whenever its log reader fell briefly behind.) Writes of at most 4096 bytes to a
 * pipe go through whole or not at all; longer ones may be split. Other errors (EPIPE) are thrown.
 */
export function writeAllSync(fd: number, data: string | Buffer, encoding: 'utf8' | 'latin1' = 'utf8'): void {
  const buf = typeof data === 'string' ? Buffer.from(data, encoding) : data
  for (let done = 0; done < buf.length; ) {
    try {
      done += writeSync(fd, buf, done, buf.length - done)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
      Atomics.wait(pause, 0, 0, 1)
    }
  }
}

/**
 * `writeAllSync` for logs: a failed write (EPIPE: the reader is gone) is not thrown into the code
 * that logs, since there is nowhere left to log to; `what` is named once in a process warning.
 * `ascii`: the caller knows the text is ASCII, so it is copied byte for byte (latin1) without
 * measuring its UTF-8 length first.
 */
export function logWriter(fd: number, what: string): (text: string, ascii?: boolean) => void {
  let warned = false
  return (text, ascii = false) => {
    try {
      writeAllSync(fd, text, ascii ? 'latin1' : 'utf8')
    } catch (err) {
      if (!warned) process.emitWarning(`servekit: ${what} cannot write to fd ${fd}: ${(err as Error).message}`)
      warned = true
    }
  }
}
