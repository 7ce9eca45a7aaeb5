import { register as registerEsm } from 'tsx/esm/api'
import { register as registerCjs } from 'tsx/cjs/api'

let registered = false

/**
 * Imports a module that may be TypeScript and returns its default export: configs and model
 * classes load without a build step. tsx's loaders are registered once per process, on first use
 * (also for a `.js` config, which may import `.ts` model code). Both loaders are needed: a `.ts` file
 * outside a `"type": "module"` package is compiled as CommonJS.
 */
export async function importDefault(url: string): Promise<unknown> {
  if (!registered) {
    registerEsm()
    registerCjs()
    registered = true
  }
  const mod = (await import(url)) as { default?: unknown }
  return unwrapCjsDefault(mod.default)
}

/** A CommonJS-compiled `export default x` arrives as `{ default: x }` (plus `__esModule`). */
function unwrapCjsDefault(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'default' in value && Object.keys(value).every((k) => k === 'default' || k === '__esModule')) {
    return (value as { default: unknown }).default
  }
  return value
}
