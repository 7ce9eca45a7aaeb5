import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type RunningService } from '../helpers/start-service.js'
import { report } from './load-client.js'
import { httpRequest, rawRequest, type RawResponse } from './raw-http.js'

// A corpus of hostile and broken requests against /infer, /infer/batch and the admin API. Each gets
// its documented answer (docs/http-api.md, docs/operations.md), never a 5xx or a crash, and the
// service answers a normal request right after it.

const CONFIG = fileURLToPath(new URL('../fixtures/faulty/servekit.config.ts', import.meta.url))
const TOKEN = 'reliability-admin-token-0123456789'
const AUTH = { authorization: `Bearer ${TOKEN}` }

let svc: RunningService
beforeAll(async () => {
  svc = await startService({ config: CONFIG, workers: 2, env: { SERVEKIT_ADMIN_TOKEN: TOKEN } })
})
afterAll(async () => {
  expect(await svc.stop()).toBe(0)
})

/** What a case must get: a status and error code, or the connection closed without an answer. */
type Expect = { status: number; code?: string } | { closed: true; status?: number }
interface Case {
  name: string
  request: Buffer | Array<string | Buffer>
  expect: Expect
  options?: { endAfterWrite?: boolean; timeoutMs?: number; gapMs?: number }
}

const post = (path: string, body: string | Buffer | object, headers: Record<string, string | null> = {}) =>
  httpRequest('POST', path, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers)
const infer = (body: string | Buffer | object, headers: Record<string, string | null> = {}) => post('/infer', body, headers)
const batch = (body: string | object, headers: Record<string, string | null> = {}) => post('/infer/batch', body, headers)
const ok = { status: 200 }
const e = (status: number, code: string): Expect => ({ status, code })
const nested = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth)

const cases: Case[] = [
  // Broken JSON.
  { name: 'invalid JSON', request: infer('{'), expect: e(400, 'invalid_json') },
  { name: 'truncated JSON', request: infer('{"model_id":"ok","features":{"x":1'), expect: e(400, 'invalid_json') },
  { name: 'trailing garbage after JSON', request: infer('{"model_id":"ok","features":{"x":1}} xyz'), expect: e(400, 'invalid_json') },
  { name: 'single-quoted JSON', request: infer("{'model_id':'ok','features':{'x':1}}"), expect: e(400, 'invalid_json') },
  { name: 'NaN literal', request: infer('{"model_id":"ok","features":{"x":NaN}}'), expect: e(400, 'invalid_json') },
  { name: 'Infinity literal', request: infer('{"model_id":"ok","features":{"x":Infinity}}'), expect: e(400, 'invalid_json') },
  { name: 'JSON with comments', request: infer('{"model_id":"ok", /* hi */ "features":{"x":1}}'), expect: e(400, 'invalid_json') },
  { name: 'trailing comma', request: infer('{"model_id":"ok","features":{"x":1},}'), expect: e(400, 'invalid_json') },
  { name: 'empty body', request: infer(''), expect: e(400, 'invalid_json') },
  { name: 'whitespace-only body', request: infer('   \n '), expect: e(400, 'invalid_json') },
  { name: 'raw control bytes', request: infer(Buffer.from([0x00, 0x01, 0x02, 0xff])), expect: e(400, 'invalid_json') },
  { name: 'unescaped newline inside a string', request: infer('{"model_id":"ok","features":{"x":1,"tag":"a\nb"}}'), expect: e(400, 'invalid_json') },
  // Valid JSON of the wrong shape.
  { name: 'JSON null body', request: infer('null'), expect: e(400, 'invalid_request') },
  { name: 'JSON array body', request: infer('[]'), expect: e(400, 'invalid_request') },
  { name: 'JSON string body', request: infer('"ok"'), expect: e(400, 'invalid_request') },
  { name: 'JSON number body', request: infer('123'), expect: e(400, 'invalid_request') },
  { name: 'JSON true body', request: infer('true'), expect: e(400, 'invalid_request') },
  { name: 'missing model_id', request: infer({ features: { x: 1 } }), expect: e(400, 'invalid_request') },
  { name: 'missing features', request: infer({ model_id: 'ok' }), expect: e(400, 'invalid_request') },
  { name: 'numeric model_id', request: infer({ model_id: 1, features: { x: 1 } }), expect: e(400, 'invalid_request') },
  { name: 'null model_id', request: infer({ model_id: null, features: { x: 1 } }), expect: e(400, 'invalid_request') },
  { name: 'empty model_id', request: infer({ model_id: '', features: { x: 1 } }), expect: e(400, 'invalid_request') },
  { name: 'model_id of 10 000 characters', request: infer({ model_id: 'a'.repeat(10_000), features: { x: 1 } }), expect: e(400, 'invalid_request') },
  { name: 'unknown envelope field', request: infer({ model_id: 'ok', features: { x: 1 }, debug: true }), expect: e(400, 'invalid_request') },
  { name: 'request_id of 129 characters', request: infer({ model_id: 'ok', features: { x: 1 }, request_id: 'r'.repeat(129) }), expect: e(400, 'invalid_request') },
  { name: 'empty request_id', request: infer({ model_id: 'ok', features: { x: 1 }, request_id: '' }), expect: e(400, 'invalid_request') },
  { name: 'numeric request_id', request: infer({ model_id: 'ok', features: { x: 1 }, request_id: 7 }), expect: e(400, 'invalid_request') },
  { name: 'parameters as an array', request: infer({ model_id: 'ok', features: { x: 1 }, parameters: [1] }), expect: e(400, 'invalid_request') },
  { name: 'parameters as a string', request: infer({ model_id: 'ok', features: { x: 1 }, parameters: 'x' }), expect: e(400, 'invalid_request') },
  { name: 'model_version of 10 000 characters', request: infer({ model_id: 'ok', model_version: 'v'.repeat(10_000), features: { x: 1 } }), expect: e(400, 'invalid_request') },
  // Hostile model ids and versions.
  { name: 'model_id with ../', request: infer({ model_id: '../../../etc/passwd', features: { x: 1 } }), expect: e(404, 'model_not_found') },
  { name: 'model_id with encoded ../', request: infer({ model_id: '..%2F..%2Fetc', features: { x: 1 } }), expect: e(404, 'model_not_found') },
  { name: 'model_id with a NUL byte', request: infer({ model_id: 'ok\u0000', features: { x: 1 } }), expect: e(404, 'model_not_found') },
  { name: 'model_id __proto__', request: infer({ model_id: '__proto__', features: { x: 1 } }), expect: e(404, 'model_not_found') },
  { name: 'model_id constructor', request: infer({ model_id: 'constructor', features: { x: 1 } }), expect: e(404, 'model_not_found') },
  { name: 'model_id toString', request: infer({ model_id: 'toString', features: { x: 1 } }), expect: e(404, 'model_not_found') },
  { name: 'model_id of 256 emoji', request: infer({ model_id: '🔥'.repeat(128), features: { x: 1 } }), expect: e(404, 'model_not_found') },
  { name: 'model_id name@../1', request: infer({ model_id: 'ok@../1', features: { x: 1 } }), expect: e(404, 'version_not_found') },
  { name: 'model_id name@__proto__', request: infer({ model_id: 'ok@__proto__', features: { x: 1 } }), expect: e(404, 'version_not_found') },
  { name: 'model_version ../../1', request: infer({ model_id: 'ok', model_version: '../../1', features: { x: 1 } }), expect: e(404, 'version_not_found') },
  { name: 'model_version with a NUL byte', request: infer({ model_id: 'ok', model_version: '1\u0000', features: { x: 1 } }), expect: e(404, 'version_not_found') },
  // Features against the schema-checked model.
  { name: 'feature of the wrong type', request: infer({ model_id: 'ok', features: { x: '1' } }), expect: e(400, 'invalid_request') },
  { name: 'missing feature', request: infer({ model_id: 'ok', features: {} }), expect: e(400, 'invalid_request') },
  { name: 'unknown feature (strict schema)', request: infer({ model_id: 'ok', features: { x: 1, y: 2 } }), expect: e(400, 'invalid_request') },
  { name: 'features as an array', request: infer({ model_id: 'ok', features: [1] }), expect: e(400, 'invalid_request') },
  { name: 'features null', request: infer({ model_id: 'ok', features: null }), expect: e(400, 'invalid_request') },
  { name: 'huge number 1e308 (out of range)', request: infer({ model_id: 'ok', features: { x: 1e308 } }), expect: e(400, 'invalid_request') },
  { name: 'number literal 1e400 (parses to Infinity)', request: infer('{"model_id":"ok","features":{"x":1e400}}'), expect: e(400, 'invalid_request') },
  { name: '400-digit integer literal', request: infer(`{"model_id":"ok","features":{"x":${'9'.repeat(400)}}}`), expect: e(400, 'invalid_request') },
  { name: 'number literal 1e-400 (underflows to 0)', request: infer('{"model_id":"ok","features":{"x":1e-400}}'), expect: ok },
  { name: 'negative zero', request: infer('{"model_id":"ok","features":{"x":-0}}'), expect: ok },
  { name: 'string feature over its max length', request: infer({ model_id: 'ok', features: { x: 1, tag: 't'.repeat(65) } }), expect: e(400, 'invalid_request') },
  // Unicode edge cases (valid JSON, so served).
  { name: 'lone surrogate escape', request: infer('{"model_id":"ok","features":{"x":1,"tag":"\\ud800"}}'), expect: ok },
  { name: 'escaped NUL in a string', request: infer('{"model_id":"ok","features":{"x":1,"tag":"a\\u0000b"}}'), expect: ok },
  { name: 'invalid UTF-8 bytes in a string', request: infer(Buffer.concat([Buffer.from('{"model_id":"ok","features":{"x":1,"tag":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')])), expect: ok },
  { name: 'right-to-left override and zero-width joiners', request: infer({ model_id: 'ok', features: { x: 1, tag: '\u202egnp.exe\u200d\u200d' } }), expect: ok },
  { name: 'emoji and combining marks', request: infer({ model_id: 'ok', features: { x: 1, tag: '👩‍👩‍👧‍👦 Z̷̢͉a̸l̵g̶o̴' } }), expect: ok },
  { name: 'UTF-8 byte order mark before the JSON (ignored)', request: infer(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"model_id":"ok","features":{"x":1}}')])), expect: ok },
  // Duplicate keys: JSON.parse keeps the last one.
  { name: 'duplicate model_id keys (last wins)', request: infer('{"model_id":"nope","model_id":"ok","features":{"x":1}}'), expect: ok },
  { name: 'duplicate feature keys (last wins)', request: infer('{"model_id":"ok","features":{"x":"a","x":1}}'), expect: ok },
  // Prototype pollution.
  { name: '__proto__ key at the top', request: infer('{"model_id":"ok","features":{"x":1},"__proto__":{"polluted":true}}'), expect: e(400, 'invalid_json') },
  { name: '__proto__ key in features', request: infer('{"model_id":"accept_any","features":{"__proto__":{"polluted":true}}}'), expect: e(400, 'invalid_json') },
  { name: '__proto__ key nested deep', request: infer('{"model_id":"accept_any","features":{"a":[{"b":{"__proto__":{"polluted":true}}}]}}'), expect: e(400, 'invalid_json') },
  { name: 'unicode-escaped __proto__ key', request: infer('{"model_id":"accept_any","features":{"\\u005f_proto__":{"polluted":true}}}'), expect: e(400, 'invalid_json') },
  { name: 'constructor.prototype keys', request: infer('{"model_id":"accept_any","features":{"constructor":{"prototype":{"polluted":true}}}}'), expect: e(400, 'invalid_json') },
  { name: 'prototype pollution through the query string', request: httpRequest('POST', '/infer?__proto__[polluted]=1&constructor[prototype][polluted]=1', JSON.stringify({ model_id: 'ok', features: { x: 1 } })), expect: ok },
  // Deep nesting and sizes.
  { name: 'arrays nested 10 000 levels (schema-checked model)', request: infer(`{"model_id":"ok","features":${nested(10_000, '[', ']')}}`), expect: e(400, 'invalid_request') },
  { name: 'arrays nested 10 000 levels (model without schema)', request: infer(`{"model_id":"accept_any","features":${nested(10_000, '[', ']')}}`), expect: ok },
  { name: 'objects nested 5 000 levels (model without schema)', request: infer(`{"model_id":"accept_any","features":${nested(5_000, '{"a":', '}')}}`), expect: ok },
  { name: 'string over the body limit', request: infer({ model_id: 'accept_any', features: 's'.repeat(70_000) }), expect: e(413, 'payload_too_large') },
  { name: 'array over the body limit', request: infer({ model_id: 'accept_any', features: new Array(40_000).fill(1) }), expect: e(413, 'payload_too_large') },
  { name: 'content-length over the limit, no body sent', request: infer('', { 'content-length': String(10 * 1024 * 1024) }), expect: e(413, 'payload_too_large') },
  { name: 'body just under the limit', request: infer({ model_id: 'accept_any', features: 's'.repeat(60_000) }), expect: ok },
  // Content types and encodings.
  { name: 'text/plain', request: infer('{"model_id":"ok","features":{"x":1}}', { 'content-type': 'text/plain' }), expect: e(415, 'unsupported_media_type') },
  { name: 'no content-type', request: infer('{"model_id":"ok","features":{"x":1}}', { 'content-type': null }), expect: e(415, 'unsupported_media_type') },
  { name: 'form-urlencoded', request: infer('model_id=ok&features=1', { 'content-type': 'application/x-www-form-urlencoded' }), expect: e(415, 'unsupported_media_type') },
  { name: 'multipart/form-data', request: infer('--b\r\n\r\nx\r\n--b--', { 'content-type': 'multipart/form-data; boundary=b' }), expect: e(415, 'unsupported_media_type') },
  { name: 'application/xml', request: infer('<infer model_id="ok"/>', { 'content-type': 'application/xml' }), expect: e(415, 'unsupported_media_type') },
  { name: 'application/jsonx', request: infer('{"model_id":"ok","features":{"x":1}}', { 'content-type': 'application/jsonx' }), expect: e(415, 'unsupported_media_type') },
  { name: 'application/json with a charset parameter', request: infer('{"model_id":"ok","features":{"x":1}}', { 'content-type': 'application/json; charset=utf-8' }), expect: ok },
  { name: 'content-encoding gzip with a plain body (never decompressed)', request: infer(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]), { 'content-encoding': 'gzip' }), expect: e(400, 'invalid_json') },
  // Framing: Node's HTTP parser refuses these before routing (400 invalid_request, connection closed).
  { name: 'content-length shorter than the body (the rest is a malformed next request)', request: infer('{"model_id":"ok","features":{"x":1}}', { 'content-length': '5' }), expect: e(400, 'invalid_request') },
  { name: 'non-numeric content-length', request: infer('{}', { 'content-length': 'abc' }), expect: e(400, 'invalid_request') },
  { name: 'content-length and transfer-encoding together (smuggling)', request: infer('{}', { 'transfer-encoding': 'chunked' }), expect: e(400, 'invalid_request') },
  { name: 'bad chunk size', request: httpRequest('POST', '/infer', 'zz\r\n{}\r\n0\r\n\r\n', { 'transfer-encoding': 'chunked', 'content-length': null }), expect: e(400, 'invalid_request') },
  { name: 'garbage request line', request: Buffer.from('HELLO THERE\r\n\r\n'), expect: e(400, 'invalid_request') },
  { name: 'unknown method', request: httpRequest('FOO', '/infer', '{}'), expect: e(400, 'invalid_request') },
  // Node itself answers a missing Host header: a bare 400 without a body.
  { name: 'no Host header', request: httpRequest('POST', '/infer', JSON.stringify({ model_id: 'ok', features: { x: 1 } }), { host: null }), expect: { status: 400 } },
  { name: 'obs-fold header continuation', request: Buffer.from('POST /infer HTTP/1.1\r\nhost: x\r\nx-request-id: a\r\n  folded\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}'), expect: e(400, 'invalid_request') },
  { name: 'truncated body, then the client half-closes', request: infer('{"model_id":"ok"', { 'content-length': '100' }), options: { endAfterWrite: true }, expect: { closed: true } },
  // Headers.
  { name: 'header flood: 3 000 headers', request: infer({ model_id: 'ok', features: { x: 1 } }, Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-flood-${i}`, 'y']))), expect: e(431, 'invalid_request') },
  { name: 'header flood under the size limit: 1 500 tiny headers', request: infer({ model_id: 'ok', features: { x: 1 } }, Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`h${i}`, 'y']))), expect: ok },
  { name: 'one 20 KB header', request: infer({ model_id: 'ok', features: { x: 1 } }, { 'x-big': 'b'.repeat(20_000) }), expect: e(431, 'invalid_request') },
  { name: 'x-request-id of 10 000 characters (replaced by a UUID)', request: infer({ model_id: 'ok', features: { x: 1 } }, { 'x-request-id': 'i'.repeat(10_000) }), expect: ok },
  { name: 'x-request-id with control characters (replaced)', request: infer({ model_id: 'ok', features: { x: 1 } }, { 'x-request-id': 'a\tb' }), expect: ok },
  { name: 'HTTP/1.0 request', request: Buffer.from(`POST /infer HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: 36\r\n\r\n{"model_id":"ok","features":{"x":1}}`), expect: ok },
  // Methods and paths.
  { name: 'GET /infer', request: httpRequest('GET', '/infer'), expect: e(405, 'method_not_allowed') },
  { name: 'PUT /infer', request: httpRequest('PUT', '/infer', '{}'), expect: e(405, 'method_not_allowed') },
  { name: 'DELETE /infer', request: httpRequest('DELETE', '/infer'), expect: e(405, 'method_not_allowed') },
  { name: 'PATCH /infer/batch', request: httpRequest('PATCH', '/infer/batch', '{}'), expect: e(405, 'method_not_allowed') },
  { name: 'OPTIONS /infer', request: httpRequest('OPTIONS', '/infer'), expect: e(405, 'method_not_allowed') },
  { name: 'path traversal', request: httpRequest('GET', '/../../etc/passwd'), expect: e(404, 'not_found') },
  { name: 'dot segments to the admin API', request: httpRequest('POST', '/infer/../admin/reload', '{}'), expect: e(404, 'not_found') },
  { name: 'encoded NUL in the path', request: httpRequest('POST', '/infer%00', '{}'), expect: e(404, 'not_found') },
  { name: 'bad percent-encoding in the path', request: httpRequest('GET', '/models%zz'), expect: e(400, 'invalid_request') },
  { name: 'path of 10 000 characters', request: httpRequest('GET', '/' + 'p'.repeat(10_000)), expect: e(404, 'not_found') },
  { name: 'path of 20 000 characters (request line too long)', request: httpRequest('GET', '/' + 'p'.repeat(20_000)), expect: e(431, 'invalid_request') },
  // The batch form.
  { name: 'batch: instances not an array', request: batch({ model_id: 'ok', instances: { x: 1 } }), expect: e(400, 'invalid_request') },
  { name: 'batch: empty instances', request: batch({ model_id: 'ok', instances: [] }), expect: e(400, 'invalid_request') },
  { name: 'batch: more instances than maxBatchItems', request: batch({ model_id: 'ok', instances: new Array(51).fill({ x: 1 }) }), expect: e(400, 'invalid_request') },
  { name: 'batch: missing model_id', request: batch({ instances: [{ x: 1 }] }), expect: e(400, 'invalid_request') },
  { name: 'batch: unknown model', request: batch({ model_id: '../ok', instances: [{ x: 1 }] }), expect: e(404, 'model_not_found') },
  { name: 'batch: junk items fail alone', request: batch({ model_id: 'ok', instances: [null, 1, 'x', [], {}, { x: 1 }] }), expect: ok },
  { name: 'batch: 10 000-level nesting in an item', request: batch(`{"model_id":"ok","instances":[${nested(10_000, '[', ']')},{"x":1}]}`), expect: ok },
  { name: 'batch: __proto__ in an item', request: batch('{"model_id":"accept_any","instances":[{"__proto__":{"polluted":true}}]}'), expect: e(400, 'invalid_json') },
  { name: 'batch: invalid JSON', request: batch('{"model_id":"ok","instances":[{"x":1},'), expect: e(400, 'invalid_json') },
  { name: 'batch: over the body limit', request: batch({ model_id: 'ok', instances: new Array(50).fill({ x: 1, tag: 't'.repeat(2000) }) }), expect: e(413, 'payload_too_large') },
  // The admin API.
  { name: 'admin: no token', request: httpRequest('GET', '/admin/models'), expect: e(401, 'unauthorized') },
  { name: 'admin: wrong token', request: httpRequest('GET', '/admin/models', undefined, { authorization: 'Bearer wrong-token-wrong-token-wrong' }), expect: e(401, 'unauthorized') },
  { name: 'admin: token prefix', request: httpRequest('GET', '/admin/models', undefined, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }), expect: e(401, 'unauthorized') },
  { name: 'admin: token with its last character changed', request: httpRequest('GET', '/admin/models', undefined, { authorization: `Bearer ${TOKEN.slice(0, -1)}X` }), expect: e(401, 'unauthorized') },
  { name: 'admin: lower-case scheme', request: httpRequest('GET', '/admin/models', undefined, { authorization: `bearer ${TOKEN}` }), expect: e(401, 'unauthorized') },
  { name: 'admin: empty bearer', request: httpRequest('GET', '/admin/models', undefined, { authorization: 'Bearer ' }), expect: e(401, 'unauthorized') },
  { name: 'admin: Basic scheme', request: httpRequest('GET', '/admin/models', undefined, { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }), expect: e(401, 'unauthorized') },
  { name: 'admin: 10 000-character token', request: httpRequest('GET', '/admin/models', undefined, { authorization: `Bearer ${'t'.repeat(10_000)}` }), expect: e(401, 'unauthorized') },
  { name: 'admin: token in the query string', request: httpRequest('GET', `/admin/models?token=${TOKEN}`), expect: e(401, 'unauthorized') },
  { name: 'admin: no token on a change', request: httpRequest('POST', '/admin/reload', '{}'), expect: e(401, 'unauthorized') },
  { name: 'admin: invalid JSON', request: httpRequest('PUT', '/admin/models/ok/default', '{"version":', AUTH), expect: e(400, 'invalid_json') },
  { name: 'admin: __proto__ in the body', request: httpRequest('PUT', '/admin/models/ok/default', '{"version":"1","__proto__":{"polluted":true}}', AUTH), expect: e(400, 'invalid_json') },
  { name: 'admin: body without version', request: httpRequest('PUT', '/admin/models/ok/default', '{}', AUTH), expect: e(400, 'invalid_request') },
  { name: 'admin: version ../../etc', request: httpRequest('PUT', '/admin/models/ok/default', '{"version":"../../etc"}', AUTH), expect: e(404, 'version_not_found') },
  { name: 'admin: model id with encoded ../', request: httpRequest('DELETE', '/admin/models/..%2F..%2Fetc/default', undefined, AUTH), expect: e(404, 'model_not_found') },
  { name: 'admin: model id with a NUL byte', request: httpRequest('DELETE', '/admin/models/ok%00/default', undefined, AUTH), expect: e(404, 'model_not_found') },
  { name: 'admin: model id of 10 000 characters', request: httpRequest('DELETE', `/admin/models/${'m'.repeat(10_000)}/default`, undefined, AUTH), expect: e(414, 'invalid_request') },
  { name: 'admin: load version ..%2F..%2Fx', request: httpRequest('POST', '/admin/models/ok/versions/..%2F..%2Fx/load', '{}', AUTH), expect: e(404, 'version_not_found') },
  { name: 'admin: alias with ../', request: httpRequest('PUT', '/admin/models/ok/aliases/..%2Fx', '{"version":"1"}', AUTH), expect: e(400, 'invalid_request') },
  { name: 'admin: rollback to a version not in the store', request: httpRequest('POST', '/admin/models/ok/rollback', '{"to":"../1"}', AUTH), expect: e(404, 'version_not_found') },
]

const NORMAL = httpRequest('POST', '/infer', JSON.stringify({ model_id: 'ok', features: { x: 21 } }))

function check(res: RawResponse, expected: Expect): void {
  if ('closed' in expected) {
    expect(res.closedByServer).toBe(true)
    if (expected.status !== undefined) expect(res.status).toBe(expected.status)
    else expect(res.status === undefined || (res.status >= 400 && res.status < 500)).toBe(true)
    return
  }
  expect(res.status).toBe(expected.status)
  if (expected.code !== undefined) expect(res.json?.error?.code).toBe(expected.code)
  if (res.status === 200) expect(res.json?.error).toBeUndefined()
}

describe('bad input', () => {
  it('has a corpus of at least 80 cases with distinct names', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80)
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length)
  })

  it.each(cases.map((c) => [c.name, c] as const))('%s: answers as documented, then a normal request succeeds', async (_name, c) => {
    const res = await rawRequest(svc.port, c.request, { timeoutMs: c.options?.timeoutMs ?? 5_000, ...c.options })
    check(res, c.expect)
    // Never a 5xx, never a stack trace or a file path.
    expect(res.status === undefined || res.status < 500).toBe(true)
    expect(res.body).not.toMatch(/\n\s+at |node_modules|\/work\/|\.ts:\d+/)
    const normal = await rawRequest(svc.port, NORMAL)
    expect(normal.status).toBe(200)
    expect(normal.json.output).toEqual({ y: 42, tag: null })
  })

  it('left Object.prototype clean in every worker and in this process', async () => {
    const seen = new Map<number, unknown>()
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const res = await rawRequest(svc.port, httpRequest('POST', '/infer', JSON.stringify({ model_id: 'accept_any', features: {} })))
      seen.set(res.json.output.pid, res.json.output.polluted)
    }
    expect(seen.size).toBe(2)
    expect([...seen.values()]).toEqual([null, null])
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })

  it('did not lose a worker to any of it', async () => {
    expect(svc.logs.filter((l) => l.msg === 'worker died; restarting it')).toEqual([])
    await report('bad-input', { cases: cases.length, statuses: tallyExpected(), worker_restarts: 0 })
  })
})

function tallyExpected(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const c of cases) {
    const key = 'closed' in c.expect ? 'closed' : `${c.expect.status}${c.expect.code ? ` ${c.expect.code}` : ''}`
    out[key] = (out[key] ?? 0) + 1
  }
  return out
}
