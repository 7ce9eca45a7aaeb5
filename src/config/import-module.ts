import { register } from 'tsx/esm/api'

let registered = false

/**
 * Imports a module that may be TypeScript: configs and model classes load without a build step.
 * tsx's loader is registered once per process, on first use, so services written in plain
 * JavaScript never pay for it.
 */
export async function importModule(url: string): Promise<unknown> {
  if (!registered && /\.[mc]?tsx?$/.test(url)) {
    register()
    registered = true
  }
  return import(url)
}
