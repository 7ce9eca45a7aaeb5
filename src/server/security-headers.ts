import type { FastifyInstance } from 'fastify'

/**
 * Response headers for a JSON API that no browser should render, frame or cache (OWASP REST
 * Security Cheat Sheet). No Strict-Transport-Security: servekit speaks plain HTTP behind a TLS
 * terminator, which owns that header. Fastify sends no `x-powered-by`.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
})

/**
 * Adds the security headers to every response of `app`, errors and 404s included. An onRequest
 * hook (not onSend) so they are set once, before any handler, and a handler may still override
 * one (GET /metrics keeps its own content type; nothing here touches content-type).
 */
export function securityHeaders(app: FastifyInstance): void {
  const entries = Object.entries(SECURITY_HEADERS)
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of entries) reply.header(name, value)
    done()
  })
}
