import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Closes connections that carry no request while a server drains. `server.close()` waits for every
 * open connection, but Node 20's `closeIdleConnections()` skips connections that never sent a request
 * (clients open spare ones) and those whose request ended after it ran; either would hold shutdown
 * open until a timeout. The current response of a socket is `socket._httpMessage` (as in Node's own
 * http code): a socket without one has no request in flight and can be closed safely.
 */
export function trackConnections(server: Server): { sweep(): void } {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  return {
    sweep() {
      server.closeIdleConnections()
      for (const socket of sockets) {
        if ((socket as Socket & { _httpMessage?: unknown })._httpMessage == null) socket.destroy()
      }
    },
  }
}
