import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ServekitError } from '../../errors.js'

/**
 * Bearer-token check for every route in the scope it is added to. Both sides are hashed first so
 * the comparison takes the same time whatever the length or content of the guess.
 */
export function requireBearerToken(app: FastifyInstance, token: string): void {
  const expected = digest(token)
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined
    if (given === undefined) throw new ServekitError('unauthorized', 'admin API: send "Authorization: Bearer <token>"')
    if (!timingSafeEqual(digest(given), expected)) throw new ServekitError('unauthorized', 'admin API: wrong token')
  })
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
