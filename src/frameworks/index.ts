import { ServekitError } from '../errors.js'
import type { AnyModelClass } from '../model/interface.js'

/**
 * Built-in model classes by name. Each is imported only when a model uses it, so a service that
 * serves no ONNX model never loads onnxruntime.
 */
const builtins: Record<string, () => Promise<{ default: AnyModelClass }>> = {
  xgboost: () => import('./xgboost.js'),
  lightgbm: () => import('./lightgbm.js'),
  onnx: () => import('./onnx.js'),
}

export const frameworkNames = (): string[] => Object.keys(builtins)

export async function loadFramework(name: string): Promise<AnyModelClass> {
  const load = builtins[name]
  if (load === undefined) throw new ServekitError('model_load_failed', `unknown framework "${name}" (known: ${frameworkNames().join(', ') || 'none'})`)
  return (await load()).default
}
