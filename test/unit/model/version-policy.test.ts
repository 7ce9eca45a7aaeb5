import { describe, expect, it } from 'vitest'
import { modelConfigSchema } from '../../../src/config/schema.js'
import { desiredState } from '../../../src/model/version-policy.js'

const config = (c: Record<string, unknown>) => modelConfigSchema.parse({ module: './m.ts', ...c })
const available = ['1', '2', '3', '10']

describe('desiredState', () => {
  it('loads the highest version under "latest" and makes it the default', () => {
    expect(desiredState(config({}), available, {})).toEqual({ load: ['10'], aliases: {}, default: '10' })
  })

  it('loads a pinned version', () => {
    expect(desiredState(config({ versions: '2' }), available, {})).toMatchObject({ load: ['2'], default: '2' })
  })

  it('loads the latest n side by side, the highest as default', () => {
    expect(desiredState(config({ versions: { latest: 2 } }), available, {})).toMatchObject({ load: ['10', '3'], default: '10' })
  })

  it('loads a list of named versions and honours a configured default alias', () => {
    const c = config({ versions: ['1', '3'], aliases: { stable: '1', canary: '3' }, default: 'stable' })
    expect(desiredState(c, available, {})).toEqual({ load: ['3', '1'], aliases: { stable: '1', canary: '3' }, default: '1' })
  })

  it('lets the store serving state pin the default (rollback) and add or remove versions', () => {
    const s = desiredState(config({ versions: { latest: 2 } }), available, { default: '2', load: ['1'], unload: ['3'] })
    expect(s).toEqual({ load: ['10', '2', '1'], aliases: {}, default: '2' })
  })

  it('never unloads the pinned default', () => {
    expect(desiredState(config({}), available, { default: '3', unload: ['3'] })).toMatchObject({ load: ['10', '3'], default: '3' })
  })

  it('store aliases override config aliases; aliases to missing versions are ignored', () => {
    const s = desiredState(config({ aliases: { stable: '1', old: '7' } }), available, { aliases: { stable: '2' } })
    expect(s.aliases).toEqual({ stable: '2' })
    expect(s.load).toEqual(['10', '2'])
  })

  it('has no default when nothing is available', () => {
    expect(desiredState(config({}), [], {})).toEqual({ load: [], aliases: {}, default: undefined })
  })
})
