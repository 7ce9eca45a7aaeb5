import net from 'node:net'

/**
 * A port that was free a moment ago, for servers that cannot listen on port 0 (redis-server,
 * Prometheus). Callers retry with a new port if another process took it first.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
