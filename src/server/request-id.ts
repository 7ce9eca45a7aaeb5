import { randomUUID } from 'node:crypto'

/** Printable ASCII without spaces, at most 128 characters: safe to echo into headers and logs. */
const SAFE_ID = /^[\x21-\x7e]{1,128}$/

/** The request id: the body's `request_id`, else a well-formed `x-request-id` header, else a new UUID. */
export function pickRequestId(fromBody: string | undefined, fromHeader: string | string[] | undefined): string {
  if (fromBody !== undefined && SAFE_ID.test(fromBody)) return fromBody
  if (typeof fromHeader === 'string' && SAFE_ID.test(fromHeader)) return fromHeader
  return randomUUID()
}
