/**
 * A stable hash of a string to [0, 1): 32-bit FNV-1a over the UTF-8 bytes of `salt`, a 0 byte and
 * `key`, finished with murmur3's fmix32 so that keys differing in one character (`user-1`,
 * `user-2`) spread over the whole range. Defined by bytes, not by this process: the same key gives
 * the same number in every worker, after every restart, and in any language that reimplements it.
 *
 * The salt is the model id, so that one user is not in the 10 % arm of every experiment at once.
 */
export function unitHash(salt: string, key: string): number {
  let h = fnv1a(FNV_OFFSET, salt)
  h = Math.imul(h, FNV_PRIME) // the 0 byte between salt and key: h ^ 0 === h
  h = fnv1a(h, key)
  return fmix32(h) / 4294967296
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** FNV-1a over the UTF-8 encoding of `s` (lone surrogates as U+FFFD, as TextEncoder does), without allocating. */
function fnv1a(hash: number, s: string): number {
  let h = hash
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME)
      continue
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME)
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
        i++
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), FNV_PRIME)
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), FNV_PRIME)
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME)
        h = Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME)
        continue
      }
      c = 0xfffd
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME)
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME)
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME)
  }
  return h
}

/** murmur3's finaliser: every input bit affects every output bit. Returns an unsigned 32-bit integer. */
function fmix32(hash: number): number {
  let h = hash
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
