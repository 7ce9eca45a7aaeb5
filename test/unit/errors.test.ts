import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { errorCodes, isServekitError, ServekitError } from '../../src/errors.js'
import { statusByCode } from '../../src/server/error-handler.js'
import { ROOT } from '../helpers/start-service.js'

describe('error catalogue', () => {
  it('documents every code in docs/http-api.md with its status', async () => {
    const doc = await readFile(join(ROOT, 'docs/http-api.md'), 'utf8')
    const missing = Object.keys(errorCodes).filter((code) => !new RegExp(`^### \`${code}\` \\(${statusByCode[code as keyof typeof statusByCode]}\\)`, 'm').test(doc))
    expect(missing).toEqual([])
  })

  it('recognises a ServekitError from another copy of the package by its shape', () => {
    const foreign = Object.assign(new Error('x'), { name: 'ServekitError', code: 'invalid_request' })
    expect(isServekitError(foreign)).toBe(true)
    expect(isServekitError(Object.assign(new Error('x'), { name: 'ServekitError', code: 'made_up' }))).toBe(false)
    expect(isServekitError(new ServekitError('not_found'))).toBe(true)
  })

  it('defaults the message to the catalogue text', () => {
    expect(new ServekitError('overloaded').message).toBe(errorCodes.overloaded)
  })
})
